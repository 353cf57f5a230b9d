import { pearson } from '../stats';
import { gatherRows } from './targets';

/**
 * A linear probe: cross-validated ridge regression from residual-stream rows to a
 * target. Folds split by experiment, so a probe never sees rows of the experiment
 * it is scored on; the ridge penalty is chosen inside each training fold (nested
 * cross-validation), so the reported r is an honest out-of-sample correlation.
 */
export interface ProbeOptions {
  folds: number;
  /** Penalties tried, on standardised features. */
  lambdas: number[];
}

export const PROBE_DEFAULTS: ProbeOptions = { folds: 5, lambdas: [0.1, 1, 10, 100, 1000, 10000] };

export interface ProbeResult {
  /** Pearson r of the out-of-fold predictions with the target. */
  r: number;
  /** Out-of-fold prediction for every row. */
  predictions: Float64Array;
  /** The penalty chosen in each outer fold. */
  lambdas: number[];
}

/** @param x rows of width d, row-major @param groups experiment of each row (folds never split one) */
export function ridgeProbe(x: Float32Array, d: number, y: ArrayLike<number>, groups: ArrayLike<number>, options: Partial<ProbeOptions> = {}): ProbeResult {
  const o = { ...PROBE_DEFAULTS, ...options };
  const n = y.length;
  if (x.length !== n * d) throw new RangeError(`probe: ${x.length} values are not ${n} rows of width ${d}`);
  const fold = foldOf(groups, o.folds);
  const predictions = new Float64Array(n);
  const chosen: number[] = [];
  for (let f = 0; f < o.folds; f++) {
    const train = indices(n, (i) => fold[i] !== f);
    const test = indices(n, (i) => fold[i] === f);
    if (test.length === 0 || train.length === 0) continue;
    const lambda = chooseLambda(x, d, y, train, fold, f, o);
    chosen.push(lambda);
    const model = fitRidge(x, d, y, train, lambda);
    for (const i of test) predictions[i] = predict(model, x, d, i);
  }
  return { r: pearson(predictions, y), predictions, lambdas: chosen };
}

/** A probe fitted separately to each kind of row, scored on all rows together. */
export interface KindProbeResult {
  /** Pearson r of all rows' out-of-fold predictions with the target. */
  r: number;
  predictions: Float64Array;
  /** Each kind's own probe: its r on its rows alone, and how many rows it had. */
  byKind: { kind: number; rows: number; r: number }[];
}

/**
 * One ridge probe per kind of row (for instance the two stages of a two-step
 * decision), their out-of-fold predictions pooled. Equivalent to one probe on the
 * features crossed with the kind: where the target at two kinds of position is a
 * different quantity (the TD error of a reward after a trip, of a transition
 * within one), it can live in different directions at each, which no single map
 * over all rows can follow.
 */
export function ridgeProbeByKind(
  x: Float32Array,
  d: number,
  y: ArrayLike<number>,
  groups: ArrayLike<number>,
  kinds: ArrayLike<number>,
  options: Partial<ProbeOptions> = {},
): KindProbeResult {
  const n = y.length;
  if (kinds.length !== n) throw new RangeError(`probe: ${kinds.length} kinds for ${n} rows`);
  const predictions = new Float64Array(n);
  const byKind: KindProbeResult['byKind'] = [];
  for (const kind of [...new Set(Array.from(kinds))].sort((a, b) => a - b)) {
    const rows = indices(n, (i) => kinds[i] === kind);
    const fit = ridgeProbe(gatherRows(x, d, rows), d, rows.map((i) => y[i]), rows.map((i) => groups[i]), options);
    rows.forEach((i, k) => (predictions[i] = fit.predictions[k]));
    byKind.push({ kind, rows: rows.length, r: fit.r });
  }
  return { r: pearson(predictions, y), predictions, byKind };
}

/** Experiments are dealt to folds in order of first appearance, round robin. */
function foldOf(groups: ArrayLike<number>, folds: number): Int32Array {
  const index = new Map<number, number>();
  const out = new Int32Array(groups.length);
  for (let i = 0; i < groups.length; i++) {
    if (!index.has(groups[i])) index.set(groups[i], index.size % folds);
    out[i] = index.get(groups[i])!;
  }
  return out;
}

function indices(n: number, keep: (i: number) => boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (keep(i)) out.push(i);
  return out;
}

function chooseLambda(x: Float32Array, d: number, y: ArrayLike<number>, train: number[], fold: Int32Array, outer: number, o: ProbeOptions): number {
  let best = o.lambdas[0];
  let bestR = -Infinity;
  for (const lambda of o.lambdas) {
    const pred: number[] = [];
    const truth: number[] = [];
    for (let f = 0; f < o.folds; f++) {
      if (f === outer) continue;
      const inner = train.filter((i) => fold[i] !== f);
      const held = train.filter((i) => fold[i] === f);
      if (inner.length === 0 || held.length === 0) continue;
      const model = fitRidge(x, d, y, inner, lambda);
      for (const i of held) {
        pred.push(predict(model, x, d, i));
        truth.push(y[i]);
      }
    }
    const r = pearson(pred, truth);
    if (r > bestR) {
      bestR = r;
      best = lambda;
    }
  }
  return best;
}

interface RidgeModel {
  mean: Float64Array;
  scale: Float64Array;
  weights: Float64Array;
  intercept: number;
}

/** Ridge on standardised features: (Z'Z + lambda I) w = Z'(y - mean y), solved by Cholesky. */
function fitRidge(x: Float32Array, d: number, y: ArrayLike<number>, rows: number[], lambda: number): RidgeModel {
  const mean = new Float64Array(d);
  const scale = new Float64Array(d);
  for (const i of rows) for (let j = 0; j < d; j++) mean[j] += x[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= rows.length;
  for (const i of rows) for (let j = 0; j < d; j++) scale[j] += (x[i * d + j] - mean[j]) ** 2;
  for (let j = 0; j < d; j++) scale[j] = Math.sqrt(scale[j] / rows.length) || 1;
  let yMean = 0;
  for (const i of rows) yMean += y[i];
  yMean /= rows.length;
  const a = new Float64Array(d * d);
  const b = new Float64Array(d);
  const z = new Float64Array(d);
  for (const i of rows) {
    for (let j = 0; j < d; j++) z[j] = (x[i * d + j] - mean[j]) / scale[j];
    const t = y[i] - yMean;
    for (let j = 0; j < d; j++) {
      b[j] += z[j] * t;
      const zj = z[j];
      for (let k = 0; k <= j; k++) a[j * d + k] += zj * z[k];
    }
  }
  for (let j = 0; j < d; j++) {
    a[j * d + j] += lambda;
    for (let k = 0; k < j; k++) a[k * d + j] = a[j * d + k];
  }
  return { mean, scale, weights: choleskySolve(a, b, d), intercept: yMean };
}

function predict(m: RidgeModel, x: Float32Array, d: number, i: number): number {
  let s = m.intercept;
  for (let j = 0; j < d; j++) s += ((x[i * d + j] - m.mean[j]) / m.scale[j]) * m.weights[j];
  return s;
}

/** Solves A w = b for a symmetric positive definite A (d x d, row-major). */
export function choleskySolve(a: Float64Array, b: Float64Array, d: number): Float64Array {
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * d + j];
      for (let k = 0; k < j; k++) s -= l[i * d + k] * l[j * d + k];
      if (i === j) {
        if (!(s > 0)) throw new RangeError('cholesky: the matrix is not positive definite');
        l[i * d + i] = Math.sqrt(s);
      } else {
        l[i * d + j] = s / l[j * d + j];
      }
    }
  }
  const w = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= l[i * d + k] * w[k];
    w[i] = s / l[i * d + i];
  }
  for (let i = d - 1; i >= 0; i--) {
    let s = w[i];
    for (let k = i + 1; k < d; k++) s -= l[k * d + i] * w[k];
    w[i] = s / l[i * d + i];
  }
  return w;
}
