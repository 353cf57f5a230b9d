import { ChartInputError, checkFinite, checkNonEmpty, formatNumber, topLevel, type ChartSpec, type Layer } from './common';

/** One token position: the latent's activation and the target's value there. */
export interface LatentPoint {
  activation: number;
  target: number;
}

export interface LatentChartOptions {
  latent: number;
  block: number;
  /** The target's name, e.g. 'TD error'. */
  target: string;
  /** The correlation the analysis found, shown in the title. */
  r: number;
  title?: string;
  /** More points than this are thinned to this many, evenly spaced in input order. Default 2000. */
  maxPoints?: number;
}

/** A latent's activation against its target, with the least-squares line through all points. */
export function latentActivationChart(points: readonly LatentPoint[], options: LatentChartOptions): ChartSpec {
  const chart = 'latentActivationChart';
  checkNonEmpty(chart, 'points', points, 'point');
  points.forEach((p, i) => {
    checkFinite(chart, `points[${i}].activation`, p.activation);
    checkFinite(chart, `points[${i}].target`, p.target);
  });
  for (const key of ['latent', 'block'] as const) {
    const v = options[key];
    if (!Number.isInteger(v) || v < 0) throw new ChartInputError(chart, `options.${key}`, `is ${v}; expected an integer >= 0`);
  }
  checkFinite(chart, 'options.r', options.r);
  const maxPoints = options.maxPoints ?? 2000;
  if (!Number.isInteger(maxPoints) || maxPoints < 2) throw new ChartInputError(chart, 'options.maxPoints', `is ${maxPoints}; expected an integer >= 2`);

  const shown = thin(points, maxPoints);
  const fit = leastSquares(points);
  const xTitle = options.target;
  const yTitle = `Latent ${options.latent} activation`;
  const layers: Layer[] = [
    {
      data: { values: shown.map((p) => ({ target: p.target, activation: p.activation })) },
      mark: { type: 'circle', size: 14, opacity: shown.length > 500 ? 0.35 : 0.7 },
      encoding: {
        x: { field: 'target', type: 'quantitative', title: xTitle, scale: { zero: false } },
        y: { field: 'activation', type: 'quantitative', title: yTitle },
        tooltip: [
          { field: 'target', type: 'quantitative', title: options.target, format: '.3f' },
          { field: 'activation', type: 'quantitative', title: 'Activation', format: '.3f' },
        ],
      },
    },
  ];
  if (fit !== undefined) {
    const xs = points.map((p) => p.target);
    const ends = [Math.min(...xs), Math.max(...xs)];
    layers.push({
      data: { values: ends.map((x) => ({ target: x, activation: fit.intercept + fit.slope * x })) },
      // A fixed accent: it must stand out from the points on light and dark hosts alike.
      mark: { type: 'line', color: '#e45756', strokeWidth: 2 },
      encoding: { x: { field: 'target', type: 'quantitative', title: xTitle }, y: { field: 'activation', type: 'quantitative', title: yTitle } },
    });
  }
  const count = shown.length < points.length ? `${shown.length} of ${points.length} points shown (evenly spaced)` : `${points.length} points`;
  const line = fit === undefined ? 'no fit: the target is constant' : `line: least-squares fit to all points, slope ${formatNumber(fit.slope)}`;
  return {
    ...topLevel(options.title ?? `Latent ${options.latent} (block ${options.block}) against ${options.target}: r = ${options.r.toFixed(2)}`, [`${count}; ${line}`]),
    width: 360,
    height: 280,
    layer: layers,
  };
}

/** At most `max` points, taken at evenly spaced positions so the choice is deterministic and spans the input. */
export function thin<T>(points: readonly T[], max: number): T[] {
  if (points.length <= max) return [...points];
  return Array.from({ length: max }, (_, k) => points[Math.floor((k * points.length) / max)]);
}

/** Ordinary least squares of activation on target; undefined when the target does not vary. */
export function leastSquares(points: readonly LatentPoint[]): { slope: number; intercept: number } | undefined {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.target, 0) / n;
  const my = points.reduce((s, p) => s + p.activation, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.target - mx) * (p.activation - my);
    sxx += (p.target - mx) ** 2;
  }
  if (sxx === 0) return undefined;
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx };
}
