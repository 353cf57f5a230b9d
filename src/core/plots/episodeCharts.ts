import type { Estimate } from '../stats';
import { ChartInputError, checkDistinct, checkEstimate, checkFinite, checkNonEmpty, conditionScale, describeN, formatNumber, topLevel, type ChartSpec, type Color, type Layer, type Position } from './common';

/** One curve: a condition's mean per episode (episode 1 first) with its 95% interval. */
export interface EpisodeSeries {
  condition: string;
  perEpisode: readonly Estimate[];
}

export interface ReturnChartOptions {
  title?: string;
  yTitle?: string;
  /** Episodes at the start played at random; shaded so the learning that follows stands out. */
  randomEpisodes?: number;
  /** A random policy's return, drawn as a labelled horizontal rule. */
  chance?: number;
}

/** Return per episode, one line per condition with its 95% band (the paper's Fig. 2E). */
export function returnPerEpisodeChart(series: readonly EpisodeSeries[], options: ReturnChartOptions = {}): ChartSpec {
  return episodeBandChart(series, {
    chart: 'returnPerEpisodeChart',
    title: options.title ?? 'Return per episode',
    yTitle: options.yTitle ?? 'Return (reward per episode)',
    percent: false,
    randomEpisodes: options.randomEpisodes ?? 0,
    references: options.chance === undefined ? [] : [{ label: 'chance', value: options.chance }],
  });
}

export interface AccuracyChartOptions {
  title?: string;
  yTitle?: string;
  randomEpisodes?: number;
  /** Accuracy of guessing, as a fraction. */
  chance?: number;
  /** The best accuracy any predictor can reach, as a fraction (e.g. the graph walk's). */
  ceiling?: number;
}

/** Prediction accuracy (a fraction, shown in percent) per episode, one line per condition with its 95% band. */
export function accuracyPerEpisodeChart(series: readonly EpisodeSeries[], options: AccuracyChartOptions = {}): ChartSpec {
  const references: Reference[] = [];
  if (options.chance !== undefined) references.push({ label: 'chance', value: options.chance });
  if (options.ceiling !== undefined) references.push({ label: 'ceiling', value: options.ceiling });
  return episodeBandChart(series, {
    chart: 'accuracyPerEpisodeChart',
    title: options.title ?? 'Prediction accuracy per episode',
    yTitle: options.yTitle ?? 'Accuracy (% correct)',
    percent: true,
    randomEpisodes: options.randomEpisodes ?? 0,
    references,
  });
}

/** The grid world's next-action accuracy per episode, typically 'true rewards' against 'shuffled rewards'. */
export function gridAccuracyChart(series: readonly EpisodeSeries[], options: AccuracyChartOptions = {}): ChartSpec {
  return accuracyPerEpisodeChart(series, { title: 'Grid world: next-action accuracy per episode', ...options });
}

interface Reference {
  label: string;
  value: number;
}

interface BandChart {
  chart: string;
  title: string;
  yTitle: string;
  percent: boolean;
  randomEpisodes: number;
  references: Reference[];
}

function episodeBandChart(series: readonly EpisodeSeries[], c: BandChart): ChartSpec {
  checkNonEmpty(c.chart, 'series', series, 'series');
  checkDistinct(c.chart, 'series[].condition', series.map((s) => s.condition));
  const rows = series.flatMap((s, i) => {
    checkNonEmpty(c.chart, `series[${i}].perEpisode`, s.perEpisode, 'episode');
    return s.perEpisode.map((e, j) => {
      checkEstimate(c.chart, `series[${i}].perEpisode[${j}]`, e);
      return { condition: s.condition, episode: j + 1, mean: e.mean, lo: e.ci95[0], hi: e.ci95[1], n: e.n };
    });
  });
  const episodes = Math.max(...series.map((s) => s.perEpisode.length));
  if (!(Number.isInteger(c.randomEpisodes) && c.randomEpisodes >= 0 && c.randomEpisodes <= episodes)) {
    throw new ChartInputError(c.chart, 'options.randomEpisodes', `is ${c.randomEpisodes}; expected an integer in [0, ${episodes}]`);
  }
  for (const r of c.references) checkFinite(c.chart, `options.${r.label}`, r.value);

  const conditions = series.map((s) => s.condition);
  const lastEpisode = Math.max(episodes, 2);
  // Every layer names the scale, or the shading and labels would widen it (and pull in zero).
  const xScale = { domain: [1, lastEpisode], nice: false };
  const x: Position = { field: 'episode', type: 'quantitative', title: 'Episode', scale: xScale, axis: { format: 'd', tickMinStep: 1 } };
  const yScale = c.percent ? { domain: [0, 1] } : { zero: false };
  const yAxis = c.percent ? { format: '%' } : {};
  // The legend's symbols are drawn opaque: taken from the faint band layer, many conditions' colours could not be told apart.
  const legend = series.length > 1 ? { symbolOpacity: 1 } : null;
  const color: Color = { field: 'condition', type: 'nominal', title: 'Condition', scale: conditionScale(conditions), legend };
  const value = c.percent ? '.1%' : '.3f';

  const layers: Layer[] = [];
  if (c.randomEpisodes > 0) {
    layers.push({
      data: { values: [{ from: 1, to: Math.min(c.randomEpisodes + 0.5, episodes), label: `random choices (episodes 1\u2013${c.randomEpisodes})` }] },
      mark: { type: 'rect', opacity: 0.15 },
      encoding: { x: { field: 'from', type: 'quantitative', scale: xScale }, x2: { field: 'to' }, tooltip: { field: 'label', type: 'nominal' } },
    });
  }
  layers.push(
    {
      mark: { type: 'area', opacity: 0.2 },
      encoding: { x, y: { field: 'lo', type: 'quantitative', title: c.yTitle, scale: yScale, axis: yAxis }, y2: { field: 'hi' }, color },
    },
    {
      mark: { type: 'line', strokeWidth: 2 },
      encoding: {
        x,
        y: { field: 'mean', type: 'quantitative', title: c.yTitle, scale: yScale, axis: yAxis },
        color,
        tooltip: [
          { field: 'condition', type: 'nominal', title: 'Condition' },
          { field: 'episode', type: 'quantitative', title: 'Episode' },
          { field: 'mean', type: 'quantitative', title: 'Mean', format: value },
          { field: 'lo', type: 'quantitative', title: '95% CI, lower', format: value },
          { field: 'hi', type: 'quantitative', title: '95% CI, upper', format: value },
          { field: 'n', type: 'quantitative', title: 'Experiments' },
        ],
      },
    },
  );
  if (c.references.length > 0) {
    const y = { field: 'value', type: 'quantitative' } as const;
    layers.push(
      { data: { values: c.references }, mark: { type: 'rule', strokeDash: [4, 4] }, encoding: { y } },
      {
        data: { values: c.references.map((r) => ({ ...r, text: `${r.label} ${c.percent ? `${formatNumber(100 * r.value)}%` : formatNumber(r.value)}` })) },
        mark: { type: 'text', align: 'right', baseline: 'bottom', dx: -2, dy: -2 },
        encoding: { x: { datum: lastEpisode, type: 'quantitative', scale: xScale }, y, text: { field: 'text', type: 'nominal' } },
      },
    );
  }

  const subtitle = [`Mean over ${describeN(series.flatMap((s) => s.perEpisode))} experiments; band: 95% confidence interval`];
  if (c.randomEpisodes > 0) subtitle.push(`Shaded: random choices (episodes 1\u2013${c.randomEpisodes})`);
  return {
    ...topLevel(c.title, subtitle),
    width: 420,
    height: 260,
    data: { values: rows },
    layer: layers,
  };
}
