import { ChartInputError, checkDistinct, checkFinite, checkNonEmpty, topLevel, type ChartSpec, type Layer } from './common';

/** A k-sparse probe's reading of one target: r with k latents. */
export interface SparseProbePoint {
  target: string;
  k: number;
  r: number;
}

/** A target's reading by a linear probe of the whole residual stream, drawn as its ceiling. */
export interface ProbeCeiling {
  target: string;
  r: number;
}

export interface SparseProbeChartOptions {
  title?: string;
  subtitle?: string;
}

/**
 * How many latents it takes to read each target: the out-of-fold r of a k-sparse
 * probe against k (log scale), a line per target, and a dashed rule at each
 * target's linear probe of the whole residual stream. A target one latent holds
 * starts near its rule; one spread over many climbs toward it slowly, or not at all.
 */
export function sparseProbeChart(points: readonly SparseProbePoint[], ceilings: readonly ProbeCeiling[], options: SparseProbeChartOptions = {}): ChartSpec {
  const chart = 'sparseProbeChart';
  checkNonEmpty(chart, 'points', points, 'point');
  const targets = [...new Set(points.map((p) => p.target))];
  checkDistinct(chart, 'ceilings[].target', ceilings.map((c) => c.target));
  const values = points.map((p, i) => {
    const k = checkFinite(chart, `points[${i}].k`, p.k);
    if (!(k >= 1)) throw new ChartInputError(chart, `points[${i}].k`, `is ${k}; expected at least 1 (k is drawn on a log scale)`);
    return { target: p.target, k, r: checkFinite(chart, `points[${i}].r`, p.r) };
  });
  const rules = ceilings.filter((c) => targets.includes(c.target)).map((c, i) => ({ target: c.target, r: checkFinite(chart, `ceilings[${i}].r`, c.r) }));
  const color = { field: 'target', type: 'nominal' as const, title: 'Target', scale: { domain: targets }, legend: { labelLimit: 280 } };
  const ks = [...new Set(values.map((v) => v.k))].sort((a, b) => a - b);
  const layers: Layer[] = [
    { data: { values: rules }, mark: { type: 'rule', strokeDash: [4, 3] }, encoding: { y: { field: 'r', type: 'quantitative' }, color } },
    {
      mark: { type: 'line', strokeWidth: 2, point: true },
      encoding: {
        x: { field: 'k', type: 'quantitative', title: 'Latents read (k)', scale: { type: 'log', base: 2 }, axis: { values: ks, format: 'd' } },
        // An out-of-fold r can fall below 0, where the reading is worse than none; the axis then reaches it.
        y: { field: 'r', type: 'quantitative', title: 'Out-of-fold r', scale: { domain: [Math.min(0, ...values.map((v) => v.r)), 1] } },
        color,
        tooltip: [
          { field: 'target', type: 'nominal', title: 'Target' },
          { field: 'k', type: 'quantitative', title: 'Latents' },
          { field: 'r', type: 'quantitative', title: 'r', format: '.3f' },
        ],
      },
    },
  ];
  const subtitle = [options.subtitle, 'Dashed: a linear probe of the whole residual stream'].filter((s): s is string => s !== undefined);
  return {
    ...topLevel(options.title ?? 'Latents needed to read each target', subtitle),
    width: 320,
    height: 220,
    data: { values },
    layer: layers,
  };
}
