import { checkDistinct, checkFinite, checkInterval, checkNonEmpty, topLevel, type ChartSpec, type Layer, type Position } from './common';

/** One lesion's effect: the paired difference from its control, with its 95% interval. */
export interface EffectRow {
  condition: string;
  value: number;
  ci95: [number, number];
}

export interface EffectChartOptions {
  title?: string;
  subtitle?: string;
  xTitle?: string;
}

/**
 * Lesion effects as a forest plot: a point per condition, in the given order, with
 * its 95% interval and a rule at zero, so that an effect whose interval crosses the
 * rule reads as none at a glance. Each row is already a difference (a lesion less its
 * own control), so the rows share no baseline and are not drawn as bars.
 */
export function lesionEffectChart(rows: readonly EffectRow[], options: EffectChartOptions = {}): ChartSpec {
  const chart = 'lesionEffectChart';
  checkNonEmpty(chart, 'rows', rows, 'condition');
  checkDistinct(chart, 'rows[].condition', rows.map((r) => r.condition));
  const values = rows.map((r, i) => {
    const value = checkFinite(chart, `rows[${i}].value`, r.value);
    const [lo, hi] = checkInterval(chart, `rows[${i}].ci95`, r.ci95);
    return { condition: r.condition, value, lo, hi };
  });
  const xTitle = options.xTitle ?? 'Lesion minus control';
  const y: Position = { field: 'condition', type: 'nominal', sort: rows.map((r) => r.condition), title: null, axis: { labelLimit: 240 } };
  const layers: Layer[] = [
    // Its own single row: on the chart's data the rule would be drawn once per condition.
    { data: { values: [{}] }, mark: { type: 'rule', strokeDash: [4, 3] }, encoding: { x: { datum: 0, type: 'quantitative' } } },
    { mark: { type: 'errorbar', ticks: true }, encoding: { y, x: { field: 'lo', type: 'quantitative', title: xTitle }, x2: { field: 'hi' } } },
    {
      mark: { type: 'point', filled: true, size: 60 },
      encoding: {
        y,
        x: { field: 'value', type: 'quantitative', title: xTitle },
        tooltip: [
          { field: 'condition', type: 'nominal', title: 'Condition' },
          { field: 'value', type: 'quantitative', title: 'Difference', format: '.3f' },
          { field: 'lo', type: 'quantitative', title: '95% CI, lower', format: '.3f' },
          { field: 'hi', type: 'quantitative', title: '95% CI, upper', format: '.3f' },
        ],
      },
    },
  ];
  const subtitle = [options.subtitle, 'Paired by experiment; error bars: 95% confidence interval'].filter((s): s is string => s !== undefined);
  return {
    ...topLevel(options.title ?? 'Lesion effects', subtitle),
    width: 360,
    height: { step: 28 },
    data: { values },
    layer: layers,
  };
}
