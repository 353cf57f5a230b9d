/**
 * Correlations of every latent with every target. A block's latents are an
 * activation matrix [n, width] (row-major float32); most SAE latents are zero on
 * most rows, so the matrix is kept as its nonzero entries by row and each
 * correlation costs one pass over them.
 *
 * With z the target standardised to mean 0 and (population) sd 1,
 *   r(x, z) = sum_i (x_i - mean x) z_i / (n sd x) = sum_i x_i z_i / (n sd x),
 * since sum_i z_i = 0: only the nonzero x_i count.
 *
 * A constant column (a dead latent, or a target that never changes) has no
 * correlation: its r is NaN, and NaN is skipped wherever a best or a maximum is taken.
 */
import { pearson } from '../stats';

/** A block's activations prepared for correlation: column statistics and nonzero entries by row (CSR). */
export interface LatentColumns {
  n: number;
  width: number;
  mean: Float64Array;
  /** Population standard deviation; 0 for a constant column. */
  sd: Float64Array;
  /** Entries of row i are at rowStart[i] .. rowStart[i + 1] - 1 of `index` and `value`. */
  rowStart: Int32Array;
  /** The column (latent) of each nonzero entry. */
  index: Int32Array;
  value: Float64Array;
}

export function prepareLatents(x: Float32Array, width: number): LatentColumns {
  if (!(Number.isInteger(width) && width >= 1)) throw new RangeError(`latent width must be a positive integer, got ${width}`);
  if (x.length % width !== 0) throw new RangeError(`${x.length} activations are not whole rows of ${width} latents`);
  const n = x.length / width;
  let nnz = 0;
  for (let k = 0; k < x.length; k++) {
    if (!Number.isFinite(x[k])) throw new RangeError(`activation ${k % width} of row ${Math.floor(k / width)} is ${x[k]}`);
    if (x[k] !== 0) nnz++;
  }
  const rowStart = new Int32Array(n + 1);
  const index = new Int32Array(nnz);
  const value = new Float64Array(nnz);
  let at = 0;
  for (let i = 0; i < n; i++) {
    rowStart[i] = at;
    for (let j = 0; j < width; j++) {
      const v = x[i * width + j];
      if (v !== 0) {
        index[at] = j;
        value[at++] = v;
      }
    }
  }
  rowStart[n] = at;
  return withStatistics({ n, width, rowStart, index, value });
}

/**
 * The Spearman transform: every column replaced by its ranks (ties get their
 * average rank), shifted so that a zero keeps rank 0. Pearson's r is unchanged by
 * a shift, so the nonzero pattern, and the cost of a pass, stay those of the
 * activations.
 */
export function rankLatents(p: LatentColumns): LatentColumns {
  const { n, width, rowStart, index } = p;
  // Transpose to columns: the entries of column j are at colStart[j] .. colStart[j + 1] - 1 of `entry` (positions in CSR).
  const colStart = new Int32Array(width + 1);
  for (let k = 0; k < index.length; k++) colStart[index[k] + 1]++;
  for (let j = 0; j < width; j++) colStart[j + 1] += colStart[j];
  const fill = colStart.slice(0, width);
  const entry = new Int32Array(index.length);
  for (let k = 0; k < index.length; k++) entry[fill[index[k]]++] = k;
  const value = new Float64Array(index.length);
  for (let j = 0; j < width; j++) {
    const from = colStart[j];
    const to = colStart[j + 1];
    const order = Array.from(entry.subarray(from, to)).sort((a, b) => p.value[a] - p.value[b]);
    const zeros = n - (to - from);
    const firstPositive = order.findIndex((k) => p.value[k] > 0);
    const below = firstPositive < 0 ? order.length : firstPositive;
    // Ranks from 1; the zeros share ranks below + 1 .. below + zeros, whose average is the shift.
    const zeroRank = below + (zeros + 1) / 2;
    forEachTie(order, (k) => p.value[k], (start, end) => {
      const position = start < below ? start : start + zeros;
      const rank = position + (end - start + 1) / 2;
      for (let t = start; t < end; t++) value[order[t]] = rank - zeroRank;
    });
  }
  return withStatistics({ n, width, rowStart, index, value });
}

/** Ranks from 1, ties given their average rank. */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const order = Array.from({ length: values.length }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Float64Array(values.length);
  forEachTie(order, (i) => values[i], (start, end) => {
    const rank = start + (end - start + 1) / 2;
    for (let t = start; t < end; t++) ranks[order[t]] = rank;
  });
  return ranks;
}

/** Spearman's rank correlation (Pearson's r of the average ranks); NaN when either series is constant. */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) throw new RangeError(`spearman: lengths differ (${x.length} vs ${y.length})`);
  return pearsonOrNaN(averageRanks(x), averageRanks(y));
}

/**
 * r of every latent with every target: result[t * width + j] is target t with
 * latent j; NaN where either column is constant.
 */
export function correlateColumns(latents: LatentColumns, targets: readonly ArrayLike<number>[]): Float64Array {
  const z = standardiseRows(targets, latents.n);
  const sums = accumulate(latents, z, targets.length, null);
  return toCorrelations(latents, sums, targets.length, z.constant);
}

/** Targets standardised and interleaved: z[i * T + t] is target t at row i; `constant[t]` when it never changes. */
export interface StandardisedTargets {
  z: Float64Array;
  constant: boolean[];
}

export function standardiseRows(targets: readonly ArrayLike<number>[], n: number): StandardisedTargets {
  const count = targets.length;
  const z = new Float64Array(n * count);
  const constant = targets.map((y, t) => {
    if (y.length !== n) throw new RangeError(`target ${t} has ${y.length} rows, the latents ${n}`);
    let m = 0;
    for (let i = 0; i < n; i++) m += y[i];
    m /= n;
    let ss = 0;
    for (let i = 0; i < n; i++) ss += (y[i] - m) ** 2;
    const sd = Math.sqrt(ss / n);
    if (!(sd > 0)) return true;
    for (let i = 0; i < n; i++) z[i * count + t] = (y[i] - m) / sd;
    return false;
  });
  return { z, constant };
}

/**
 * sums[j * T + t] = sum_i x_ij z_{perm(i), t}: one pass over the nonzero entries.
 * `perm` reads the targets in another order (a permutation of the rows); null reads them as they are.
 */
export function accumulate(latents: LatentColumns, targets: StandardisedTargets, count: number, perm: Int32Array | null): Float64Array {
  const { n, width, rowStart, index, value } = latents;
  const { z } = targets;
  const sums = new Float64Array(width * count);
  for (let i = 0; i < n; i++) {
    const zi = (perm === null ? i : perm[i]) * count;
    for (let k = rowStart[i]; k < rowStart[i + 1]; k++) {
      const base = index[k] * count;
      const v = value[k];
      for (let t = 0; t < count; t++) sums[base + t] += v * z[zi + t];
    }
  }
  return sums;
}

/** The sums of {@link accumulate} as correlations, laid out target-major ([T, width]). */
export function toCorrelations(latents: LatentColumns, sums: Float64Array, count: number, constantTarget: readonly boolean[]): Float64Array {
  const { n, width, sd } = latents;
  const r = new Float64Array(count * width);
  for (let t = 0; t < count; t++) {
    for (let j = 0; j < width; j++) {
      r[t * width + j] = constantTarget[t] || !(sd[j] > 0) ? NaN : clamp(sums[j * count + t] / (n * sd[j]));
    }
  }
  return r;
}

export type CorrelationMethod = 'pearson' | 'spearman';

/** Correlations of a block's latents with named targets. */
export interface CorrelationMatrix {
  method: CorrelationMethod;
  targets: string[];
  width: number;
  /** r[t * width + j]: target t with latent j; NaN where either is constant. */
  r: Float64Array;
}

/**
 * Every latent against every target. Spearman ranks both the latents and the
 * targets (average ranks for ties).
 */
export function correlate(
  latents: LatentColumns,
  targets: { names: readonly string[]; columns: readonly ArrayLike<number>[] },
  method: CorrelationMethod = 'pearson',
): CorrelationMatrix {
  const x = method === 'spearman' ? rankLatents(latents) : latents;
  const ys = method === 'spearman' ? targets.columns.map(averageRanks) : targets.columns;
  return { method, targets: [...targets.names], width: latents.width, r: correlateColumns(x, ys) };
}

/** The latent whose |r| with a target is largest (its signed r); latent -1 and r NaN when every r is NaN. */
export interface BestLatent {
  target: string;
  latent: number;
  r: number;
}

export function bestLatents(m: CorrelationMatrix): BestLatent[] {
  return m.targets.map((target, t) => {
    let latent = -1;
    let r = NaN;
    for (let j = 0; j < m.width; j++) {
      const v = m.r[t * m.width + j];
      if (Math.abs(v) > Math.abs(r) || (Number.isNaN(r) && !Number.isNaN(v))) {
        latent = j;
        r = v;
      }
    }
    return { target, latent, r };
  });
}

/** One target's best latent in every block: the paper's "maximum correlation per block" curve, unsmoothed. */
export interface MaxCurve {
  target: string;
  points: { block: number; latent: number; r: number }[];
}

/** Per target, the best latent of each block, in block order; blocks without a correlation are left out. */
export function maxCurves(blocks: readonly { block: number; best: readonly BestLatent[] }[]): MaxCurve[] {
  const curves = new Map<string, MaxCurve>();
  for (const { block, best } of [...blocks].sort((a, b) => a.block - b.block)) {
    for (const b of best) {
      if (!curves.has(b.target)) curves.set(b.target, { target: b.target, points: [] });
      if (!Number.isNaN(b.r)) curves.get(b.target)!.points.push({ block, latent: b.latent, r: b.r });
    }
  }
  return [...curves.values()];
}

function withStatistics(c: Omit<LatentColumns, 'mean' | 'sd'>): LatentColumns {
  const { n, width, index, value } = c;
  const mean = new Float64Array(width);
  for (let k = 0; k < index.length; k++) mean[index[k]] += value[k];
  for (let j = 0; j < width; j++) mean[j] /= n;
  // Sum of squared deviations: over the nonzero entries, plus mean^2 for each zero.
  const ss = new Float64Array(width);
  const nonzero = new Int32Array(width);
  for (let k = 0; k < index.length; k++) {
    const j = index[k];
    ss[j] += (value[k] - mean[j]) ** 2;
    nonzero[j]++;
  }
  const sd = new Float64Array(width);
  for (let j = 0; j < width; j++) sd[j] = Math.sqrt((ss[j] + (n - nonzero[j]) * mean[j] ** 2) / n);
  constantToZero(c, mean, sd);
  return { ...c, mean, sd };
}

/**
 * A column whose values are all equal can come out with a rounding-sized sd;
 * it is marked constant (sd 0) by checking its values, not the size of its sd.
 */
function constantToZero(c: Omit<LatentColumns, 'mean' | 'sd'>, mean: Float64Array, sd: Float64Array): void {
  const first = new Float64Array(c.width).fill(NaN);
  const varies = new Uint8Array(c.width);
  const count = new Int32Array(c.width);
  for (let k = 0; k < c.index.length; k++) {
    const j = c.index[k];
    count[j]++;
    if (Number.isNaN(first[j])) first[j] = c.value[k];
    else if (c.value[k] !== first[j]) varies[j] = 1;
  }
  for (let j = 0; j < c.width; j++) {
    // Zeros and nonzeros mixed vary; all zero, or one value everywhere, does not.
    const constant = !varies[j] && (count[j] === 0 || count[j] === c.n);
    if (constant) sd[j] = 0;
    if (constant && count[j] === 0) mean[j] = 0;
  }
}

/** Calls `group(start, end)` for every run of equal keys in `order` (already sorted by key). */
function forEachTie(order: readonly number[], key: (i: number) => number, group: (start: number, end: number) => void): void {
  let start = 0;
  for (let t = 1; t <= order.length; t++) {
    if (t === order.length || key(order[t]) !== key(order[start])) {
      group(start, t);
      start = t;
    }
  }
}

function pearsonOrNaN(x: Float64Array, y: Float64Array): number {
  const r = pearson(x, y);
  return Number.isFinite(r) ? clamp(r) : NaN;
}

/** Rounding can carry |r| a hair past 1. */
function clamp(r: number): number {
  return Math.max(-1, Math.min(1, r));
}
