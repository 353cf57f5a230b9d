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
  return ridgeProbes(x, d, [y], groups, options)[0];
}

/**
 * One probe per target on the same rows, as {@link ridgeProbe} fits each alone.
 * Every fit is made from per-fold sums (of x, of x x', of y and of y x), so the
 * residual rows are read once, and each (training folds, penalty) Cholesky factor
 * serves every target: many targets cost little more than one.
 */
export function ridgeProbes(x: Float32Array, d: number, ys: readonly ArrayLike<number>[], groups: ArrayLike<number>, options: Partial<ProbeOptions> = {}): ProbeResult[] {
  const o = { ...PROBE_DEFAULTS, ...options };
  const n = groups.length;
  if (x.length !== n * d) throw new RangeError(`probe: ${x.length} values are not ${n} rows of width ${d}`);
  for (const y of ys) if (y.length !== n) throw new RangeError(`probe: ${y.length} target values for ${n} rows`);
  const fold = foldOf(groups, o.folds);
  const sums = foldSums(x, d, ys, fold, o.folds);
  const predictions = ys.map(() => new Float64Array(n));
  const chosen: number[][] = ys.map(() => []);
  const all = Array.from({ length: o.folds }, (_, f) => f);
  for (let outer = 0; outer < o.folds; outer++) {
    const train = all.filter((f) => f !== outer);
    const test = indices(n, (i) => fold[i] === outer);
    if (test.length === 0 || train.every((f) => sums[f].n === 0)) continue;
    const lambdas = chooseLambdas(x, d, ys, fold, sums, train, o);
    for (let t = 0; t < ys.length; t++) {
      chosen[t].push(lambdas[t]);
      const model = fitRidge(combine(sums, train, d), lambdas[t], [t])[0];
      for (const i of test) predictions[t][i] = predict(model, x, d, i);
    }
  }
  return ys.map((y, t) => ({ r: pearson(predictions[t], y), predictions: predictions[t], lambdas: chosen[t] }));
}

/** A ridge probe fitted to all rows at one penalty, as a direction of the raw residual stream. */
export interface ProbeDirection {
  /** w in the raw coordinates: the probe reads intercept + (x - center) . w. */
  weights: Float64Array;
  /** The mean of the rows it was fitted on. */
  center: Float64Array;
  intercept: number;
}

/** The ridge probe of y on all rows at one penalty (on standardised features, as {@link ridgeProbe} fits), in raw coordinates. */
export function ridgeDirection(x: Float32Array, d: number, y: ArrayLike<number>, lambda: number): ProbeDirection {
  const n = y.length;
  if (x.length !== n * d) throw new RangeError(`probe: ${x.length} values are not ${n} rows of width ${d}`);
  const [model] = fitRidge(foldSums(x, d, [y], new Int32Array(n), 1)[0], lambda, [0]);
  return { weights: Float64Array.from(model.weights, (w, j) => w / model.scale[j]), center: model.mean, intercept: model.intercept };
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
/** Each row's fold: the experiments (groups) are dealt to the folds in order of first appearance. */
export function foldOf(groups: ArrayLike<number>, folds: number): Int32Array {
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

/** Each target's penalty: the one whose inner folds' pooled out-of-fold predictions correlate best with it. */
function chooseLambdas(x: Float32Array, d: number, ys: readonly ArrayLike<number>[], fold: Int32Array, sums: FoldSums[], train: number[], o: ProbeOptions): number[] {
  const best = ys.map(() => ({ lambda: o.lambdas[0], r: -Infinity }));
  for (const lambda of o.lambdas) {
    const pred: number[][] = ys.map(() => []);
    const truth: number[][] = ys.map(() => []);
    for (const held of train) {
      const inner = train.filter((f) => f !== held);
      if (sums[held].n === 0 || inner.every((f) => sums[f].n === 0)) continue;
      const models = fitRidge(combine(sums, inner, d), lambda, ys.map((_, t) => t));
      for (let i = 0; i < fold.length; i++) {
        if (fold[i] !== held) continue;
        models.forEach((m, t) => {
          pred[t].push(predict(m, x, d, i));
          truth[t].push(ys[t][i]);
        });
      }
    }
    ys.forEach((_, t) => {
      const r = pearson(pred[t], truth[t]);
      if (r > best[t].r) best[t] = { lambda, r };
    });
  }
  return best.map((b) => b.lambda);
}

/** Sums over some rows: their count, of x, of x x' (lower triangle, row-major), and per target of y and y x. */
interface FoldSums {
  n: number;
  x: Float64Array;
  xx: Float64Array;
  y: Float64Array;
  yx: Float64Array[];
}

function emptySums(d: number, targets: number): FoldSums {
  return { n: 0, x: new Float64Array(d), xx: new Float64Array(d * d), y: new Float64Array(targets), yx: Array.from({ length: targets }, () => new Float64Array(d)) };
}

function foldSums(x: Float32Array, d: number, ys: readonly ArrayLike<number>[], fold: Int32Array, folds: number): FoldSums[] {
  const sums = Array.from({ length: folds }, () => emptySums(d, ys.length));
  const row = new Float64Array(d);
  for (let i = 0; i < fold.length; i++) {
    const s = sums[fold[i]];
    s.n++;
    for (let j = 0; j < d; j++) row[j] = x[i * d + j];
    for (let j = 0; j < d; j++) {
      const xj = row[j];
      s.x[j] += xj;
      for (let k = 0; k <= j; k++) s.xx[j * d + k] += xj * row[k];
    }
    ys.forEach((y, t) => {
      const yi = y[i];
      s.y[t] += yi;
      const yx = s.yx[t];
      for (let j = 0; j < d; j++) yx[j] += yi * row[j];
    });
  }
  return sums;
}

function combine(sums: readonly FoldSums[], folds: readonly number[], d: number): FoldSums {
  const out = emptySums(d, sums[0].y.length);
  for (const f of folds) {
    const s = sums[f];
    out.n += s.n;
    for (let j = 0; j < d; j++) out.x[j] += s.x[j];
    for (let j = 0; j < d * d; j++) out.xx[j] += s.xx[j];
    s.y.forEach((v, t) => {
      out.y[t] += v;
      for (let j = 0; j < d; j++) out.yx[t][j] += s.yx[t][j];
    });
  }
  return out;
}

interface RidgeModel {
  mean: Float64Array;
  scale: Float64Array;
  weights: Float64Array;
  intercept: number;
}

/**
 * Ridge on standardised features, (Z'Z + lambda I) w = Z'(y - mean y), from the
 * training rows' sums: Z'Z = (X'X - n m m') / (s s'), Z'y = (X'y - n m ybar) / s.
 * A feature that does not vary keeps scale 1, as it would with the rows centred
 * one by one. One Cholesky factor serves the targets asked for.
 */
function fitRidge(s: FoldSums, lambda: number, targets: readonly number[]): RidgeModel[] {
  const d = s.x.length;
  const n = s.n;
  const mean = Float64Array.from(s.x, (v) => v / n);
  const scale = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    const variance = s.xx[j * d + j] / n - mean[j] * mean[j];
    // Rounding leaves a constant feature's variance a few ulps from 0, not 0.
    scale[j] = variance > 1e-12 * Math.max(1, mean[j] * mean[j]) ? Math.sqrt(variance) : 1;
  }
  const a = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    for (let k = 0; k <= j; k++) {
      const v = (s.xx[j * d + k] - n * mean[j] * mean[k]) / (scale[j] * scale[k]);
      a[j * d + k] = v;
      a[k * d + j] = v;
    }
    a[j * d + j] += lambda;
  }
  const factor = choleskyFactor(a, d);
  return targets.map((t) => {
    const yMean = s.y[t] / n;
    const b = Float64Array.from(s.yx[t], (v, j) => (v - n * mean[j] * yMean) / scale[j]);
    return { mean, scale, weights: choleskyApply(factor, b, d), intercept: yMean };
  });
}

function predict(m: RidgeModel, x: Float32Array, d: number, i: number): number {
  let s = m.intercept;
  for (let j = 0; j < d; j++) s += ((x[i * d + j] - m.mean[j]) / m.scale[j]) * m.weights[j];
  return s;
}

/** Solves A w = b for a symmetric positive definite A (d x d, row-major). */
export function choleskySolve(a: Float64Array, b: Float64Array, d: number): Float64Array {
  return choleskyApply(choleskyFactor(a, d), b, d);
}

/** L with A = L L' (lower triangle, row-major), for a symmetric positive definite A. */
function choleskyFactor(a: Float64Array, d: number): Float64Array {
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
  return l;
}

/** w with L L' w = b, by forward and back substitution. */
function choleskyApply(l: Float64Array, b: Float64Array, d: number): Float64Array {
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
