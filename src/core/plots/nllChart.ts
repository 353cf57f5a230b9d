import { checkDistinct, checkFinite, checkInterval, checkNonEmpty, conditionScale, topLevel, type ChartSpec, type Color, type Layer, type Position } from './common';

/** A condition's negative log-likelihood, e.g. of the model's choices under the fitted Q-learner. */
export interface NllRow {
  condition: string;
  nll: number;
  ci95?: [number, number];
}

export interface NllChartOptions {
  title?: string;
  subtitle?: string;
  xTitle?: string;
}

/**
 * NLL by condition as horizontal bars in the given order, with 95% error bars
 * where intervals are given (the paper's Fig. 2F: clean, full reconstruction,
 * TD-latent lesion, control lesion). Bars share their condition's colour with the
 * other charts of the same conditions.
 */
export function nllByConditionChart(rows: readonly NllRow[], options: NllChartOptions = {}): ChartSpec {
  const chart = 'nllByConditionChart';
  checkNonEmpty(chart, 'rows', rows, 'condition');
  checkDistinct(chart, 'rows[].condition', rows.map((r) => r.condition));
  const values = rows.map((r, i) => {
    checkFinite(chart, `rows[${i}].nll`, r.nll);
    if (r.ci95 === undefined) return { condition: r.condition, nll: r.nll };
    const [lo, hi] = checkInterval(chart, `rows[${i}].ci95`, r.ci95);
    return { condition: r.condition, nll: r.nll, lo, hi };
  });
  const conditions = rows.map((r) => r.condition);
  const withIntervals = rows.some((r) => r.ci95 !== undefined);
  const xTitle = options.xTitle ?? 'NLL of the choices (nats)';
  const y: Position = { field: 'condition', type: 'nominal', sort: conditions, title: null, axis: { labelLimit: 240 } };
  const color: Color = { field: 'condition', type: 'nominal', scale: conditionScale(conditions), legend: null };

  const layers: Layer[] = [
    {
      mark: { type: 'bar' },
      encoding: {
        y,
        x: { field: 'nll', type: 'quantitative', title: xTitle },
        color,
        tooltip: [
          { field: 'condition', type: 'nominal', title: 'Condition' },
          { field: 'nll', type: 'quantitative', title: 'NLL', format: ',.1f' },
          ...(withIntervals
            ? [
                { field: 'lo', type: 'quantitative' as const, title: '95% CI, lower', format: ',.1f' },
                { field: 'hi', type: 'quantitative' as const, title: '95% CI, upper', format: ',.1f' },
              ]
            : []),
        ],
      },
    },
  ];
  if (withIntervals) {
    layers.push({
      transform: [{ filter: 'isValid(datum.lo)' }],
      mark: { type: 'errorbar', ticks: true },
      encoding: { y, x: { field: 'lo', type: 'quantitative', title: xTitle }, x2: { field: 'hi' } },
    });
  }
  const subtitle = [options.subtitle, withIntervals ? 'Error bars: 95% confidence interval' : undefined].filter((s): s is string => s !== undefined);
  return {
    ...topLevel(options.title ?? 'NLL by condition', subtitle),
    width: 360,
    height: { step: 28 },
    data: { values },
    layer: layers,
  };
}
