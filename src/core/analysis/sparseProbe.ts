import { pearson } from '../stats';
import { choleskySolve, foldOf } from './probe';

/**
 * How many latents it takes to read a target: a k-sparse probe. Where one latent
 * tracks a variable, k = 1 already reads it; where the variable is spread over
 * many latents, the reading grows with k toward that of a linear probe of the
 * whole residual stream. The latents are chosen greedily (orthogonal matching
 * pursuit: each step adds the latent that best tracks what the chosen ones leave
 * of the target, among those active on at least a set fraction of the rows) and
 * fitted by least squares, inside cross-validation folds by experiment, so that
 * neither the choice nor the fit sees the rows it is scored on.
 */

export interface SparseProbeOptions {
  /** the numbers of latents read, ascending */
  ks: readonly number[];
  folds: number;
  /** a ridge penalty on the least-squares fit, relative to each column's sum of squares, for stability */
  ridge: number;
  /**
   * the fraction of the training rows a latent must be active on (nonzero) to be
   * chosen: a latent that fires on a handful of rows can match the largest
   * residuals exactly, and its weight then says nothing about other experiments
   */
  minActive: number;
}

export const SPARSE_PROBE_DEFAULTS: SparseProbeOptions = { ks: [1, 2, 4, 8, 16, 32], folds: 5, ridge: 1e-6, minActive: 0.01 };

export interface SparseProbeResult {
  /** per k: the out-of-fold predictions' Pearson r with the target (pooled over folds) */
  points: { k: number; r: number }[];
  /** the latents chosen on all rows, in order, for the report (the folds choose their own) */
  chosen: number[];
}

/**
 * The k-sparse probe of `y` from `acts` ([rows, width]) for every k in `ks`, with
 * folds by `groups` (rows of one experiment stay together).
 */
export function sparseProbe(acts: Float32Array, width: number, y: ArrayLike<number>, groups: ArrayLike<number>, options: Partial<SparseProbeOptions> = {}): SparseProbeResult {
  const o = { ...SPARSE_PROBE_DEFAULTS, ...options };
  const n = y.length;
  if (acts.length !== n * width) throw new RangeError(`sparse probe: ${acts.length} activations are not ${n} rows of ${width}`);
  if (o.ks.some((k, i) => !Number.isInteger(k) || k < 1 || (i > 0 && k <= o.ks[i - 1]))) throw new RangeError(`sparse probe: ks must be ascending positive integers, got ${o.ks.join(', ')}`);
  const kMax = o.ks[o.ks.length - 1];
  const fold = foldOf(groups, o.folds);
  const predictions = o.ks.map(() => new Float64Array(n));
  for (let f = 0; f < o.folds; f++) {
    const train: number[] = [];
    const test: number[] = [];
    for (let i = 0; i < n; i++) (fold[i] === f ? test : train).push(i);
    if (train.length === 0 || test.length === 0) continue;
    // fits[c]: least squares on the first c latents chosen; fewer may be chosen than asked for.
    const { fits } = pursue(acts, width, y, train, kMax, o);
    o.ks.forEach((k, j) => {
      const fit = fits[Math.min(k, fits.length - 1)];
      for (const i of test) predictions[j][i] = predict(fit, acts, width, i);
    });
  }
  const all = Array.from({ length: n }, (_, i) => i);
  return {
    points: o.ks.map((k, j) => ({ k, r: pearson(predictions[j], y) })),
    chosen: pursue(acts, width, y, all, kMax, o).chosen,
  };
}

interface LinearFit {
  columns: number[];
  intercept: number;
  weights: Float64Array;
}

/**
 * Orthogonal matching pursuit on the rows given: up to k columns, each the one
 * most correlated with the current residual among those active on enough rows.
 * Returns them in order, and the least-squares fit on each prefix of them
 * (`fits[c]` on the first c, from the intercept alone at c = 0).
 */
function pursue(acts: Float32Array, width: number, y: ArrayLike<number>, rows: readonly number[], k: number, o: SparseProbeOptions): { chosen: number[]; fits: LinearFit[] } {
  const m = rows.length;
  // Each column's centred sum of squares over these rows; constant columns can never be chosen.
  const mean = new Float64Array(width);
  const sq = new Float64Array(width);
  const active = new Int32Array(width);
  for (const i of rows) {
    for (let j = 0; j < width; j++) {
      mean[j] += acts[i * width + j];
      if (acts[i * width + j] !== 0) active[j]++;
    }
  }
  const eligible = (j: number) => sq[j] > 1e-12 && active[j] >= o.minActive * m;
  for (let j = 0; j < width; j++) mean[j] /= m;
  for (const i of rows) {
    for (let j = 0; j < width; j++) {
      const v = acts[i * width + j] - mean[j];
      sq[j] += v * v;
    }
  }
  const chosen: number[] = [];
  const fits = [leastSquares(acts, width, y, rows, chosen, o.ridge)];
  let residual = Float64Array.from(rows, (i) => y[i]);
  for (let step = 0; step < k; step++) {
    let eMean = 0;
    for (let t = 0; t < m; t++) eMean += residual[t];
    eMean /= m;
    const dot = new Float64Array(width);
    rows.forEach((i, t) => {
      const e = residual[t] - eMean;
      for (let j = 0; j < width; j++) dot[j] += acts[i * width + j] * e;
    });
    let best = -1;
    let bestScore = 0;
    for (let j = 0; j < width; j++) {
      if (!eligible(j) || chosen.includes(j)) continue;
      const score = (dot[j] * dot[j]) / sq[j];
      if (score > bestScore) [best, bestScore] = [j, score];
    }
    if (best < 0) break;
    chosen.push(best);
    const fit = leastSquares(acts, width, y, rows, chosen, o.ridge);
    fits.push(fit);
    residual = Float64Array.from(rows, (i) => y[i] - predict(fit, acts, width, i));
  }
  // Fewer columns vary than were asked for: the later ks read what there is.
  return { chosen, fits };
}

/** Least squares of y on the chosen columns (centred, with an intercept) over the rows given. */
function leastSquares(acts: Float32Array, width: number, y: ArrayLike<number>, rows: readonly number[], columns: readonly number[], ridge: number): LinearFit {
  const c = columns.length;
  const m = rows.length;
  const xMean = new Float64Array(c);
  let yMean = 0;
  for (const i of rows) {
    yMean += y[i];
    columns.forEach((col, a) => (xMean[a] += acts[i * width + col]));
  }
  yMean /= m;
  for (let a = 0; a < c; a++) xMean[a] /= m;
  const gram = new Float64Array(c * c);
  const xy = new Float64Array(c);
  const x = new Float64Array(c);
  for (const i of rows) {
    columns.forEach((col, a) => (x[a] = acts[i * width + col] - xMean[a]));
    const dy = y[i] - yMean;
    for (let a = 0; a < c; a++) {
      xy[a] += x[a] * dy;
      for (let b = 0; b <= a; b++) gram[a * c + b] += x[a] * x[b];
    }
  }
  for (let a = 0; a < c; a++) {
    for (let b = 0; b < a; b++) gram[b * c + a] = gram[a * c + b];
    gram[a * c + a] *= 1 + ridge;
  }
  const weights = c === 0 ? new Float64Array(0) : choleskySolve(gram, xy, c);
  let intercept = yMean;
  for (let a = 0; a < c; a++) intercept -= weights[a] * xMean[a];
  return { columns: [...columns], intercept, weights };
}

function predict(fit: LinearFit, acts: Float32Array, width: number, i: number): number {
  let v = fit.intercept;
  fit.columns.forEach((col, a) => (v += fit.weights[a] * acts[i * width + col]));
  return v;
}
