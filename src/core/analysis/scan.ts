import { bestLatents, correlate, prepareLatents, spearman, standardiseRows, type LatentColumns } from './correlate';
import { permutationNull, permutationOptions, permutationP, type PermutationOptions } from './permutation';
import type { TargetTable } from './targets';

/**
 * One block's search for the latents that track each target: every latent
 * against every target (Pearson), the best by |r|, its Spearman r as a check, its
 * permutation p-value (family-wise over the block's latents) and its activation
 * statistics. The same scan runs on a trained SAE's latents, on a random SAE's
 * and on the raw residual dimensions, so the three can be set side by side.
 */
export interface LatentStats {
  mean: number;
  /** Population standard deviation. */
  sd: number;
  /** Fraction of rows where the activation is above 0. */
  fireRate: number;
  max: number;
}

export interface ScannedLatent {
  target: string;
  /** -1 when no latent has a correlation (every latent, or the target, is constant). */
  latent: number;
  /** Pearson r of the latent with the largest |r|, signed; NaN when there is none. */
  r: number;
  /** Spearman's r of the same latent. */
  spearman: number;
  /** Permutation p-value of |r| against the block's null maxima; null without permutations. */
  p: number | null;
  /** Null when there is no latent. */
  stats: LatentStats | null;
}

export interface LatentScan {
  /** Rows and latents scanned. */
  n: number;
  width: number;
  /** Latents that never change over the rows (excluded: their r is undefined). */
  constant: number;
  best: ScannedLatent[];
}

/**
 * @param x activations [n, width], row-major, row i matching row i of `targets`
 *   (see {@link gatherRows} to join store rows)
 */
export function scanLatents(
  x: Float32Array,
  width: number,
  targets: TargetTable,
  options: Partial<PermutationOptions> = {},
  signal?: AbortSignal,
): LatentScan {
  const o = permutationOptions(options);
  const latents = prepareLatents(x, width);
  if (latents.n !== targets.groups.length) throw new RangeError(`scan: ${latents.n} activation rows for ${targets.groups.length} target rows`);
  const best = bestLatents(correlate(latents, targets));
  const nullMax = permutationNull(latents, standardiseRows(targets.columns, latents.n), targets.groups, o, signal);
  return {
    n: latents.n,
    width,
    constant: latents.sd.reduce((c, sd) => c + (sd > 0 ? 0 : 1), 0),
    best: best.map((b, t) => {
      if (b.latent < 0) return { ...b, spearman: NaN, p: null, stats: null };
      const column = latentColumn(x, width, b.latent);
      return { ...b, spearman: spearman(column, targets.columns[t]), p: permutationP(b.r, nullMax[t]), stats: latentStats(latents, column, b.latent) };
    }),
  };
}

/** One latent's activations over all rows. */
export function latentColumn(x: Float32Array, width: number, latent: number): Float64Array {
  const n = x.length / width;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = x[i * width + latent];
  return out;
}

function latentStats(latents: LatentColumns, column: Float64Array, j: number): LatentStats {
  let fired = 0;
  let max = -Infinity;
  for (const v of column) {
    if (v > 0) fired++;
    if (v > max) max = v;
  }
  return { mean: latents.mean[j], sd: latents.sd[j], fireRate: fired / column.length, max };
}
