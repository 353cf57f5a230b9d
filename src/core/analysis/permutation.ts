import { checkInteger, checkKnownKeys, checkOneOf } from '../config';
import { Rng } from '../random';
import { accumulate, toCorrelations, type LatentColumns, type StandardisedTargets } from './correlate';

/**
 * The permutation null of a block's best correlation. Each permutation pairs the
 * activations with the targets of other rows of the same experiment and records
 * the largest |r| over all latents; the observed best is compared with those
 * maxima (the max-statistic method), which corrects for the number of latents
 * tested: the p-value is family-wise over the block's latents.
 *
 * Permuting within experiments keeps what differs between experiments (a latent
 * that only tracks an experiment's average target is not called significant).
 * `shuffle` breaks the order within an experiment; `rotate` shifts each
 * experiment's targets by a random offset instead, keeping their autocorrelation,
 * a stricter null for slowly drifting targets such as Q-values.
 */
export const PERMUTATION_SCHEMES = ['shuffle', 'rotate'] as const;
export type PermutationScheme = (typeof PERMUTATION_SCHEMES)[number];

export interface PermutationOptions {
  /** Permutations per block; 0 skips the test (p is then null). */
  permutations: number;
  seed: number;
  scheme: PermutationScheme;
}

export const PERMUTATION_DEFAULTS: PermutationOptions = { permutations: 200, seed: 0, scheme: 'shuffle' };

export function permutationOptions(partial: Partial<PermutationOptions> = {}): PermutationOptions {
  checkKnownKeys('permutation', partial, Object.keys(PERMUTATION_DEFAULTS));
  const o = { ...PERMUTATION_DEFAULTS, ...partial };
  checkInteger('permutation.permutations', o.permutations, 0, 100_000);
  checkInteger('permutation.seed', o.seed);
  checkOneOf('permutation.scheme', o.scheme, PERMUTATION_SCHEMES);
  return o;
}

/**
 * A permutation of rows that stays within groups: row i is paired with row
 * perm[i], of the same group. Rows of a group need not be contiguous; `rotate`
 * shifts them in their order of appearance.
 */
export function permuteWithinGroups(groups: ArrayLike<number>, rng: Rng, scheme: PermutationScheme): Int32Array {
  const members = new Map<number, number[]>();
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i];
    if (!members.has(g)) members.set(g, []);
    members.get(g)!.push(i);
  }
  const perm = new Int32Array(groups.length);
  for (const rows of members.values()) {
    const m = rows.length;
    if (scheme === 'shuffle') {
      const shuffled = rng.shuffle(rows);
      rows.forEach((row, k) => (perm[row] = shuffled[k]));
    } else {
      const offset = rng.int(0, m);
      rows.forEach((row, k) => (perm[row] = rows[(k + offset) % m]));
    }
  }
  return perm;
}

/**
 * nullMax[t][b]: the largest |r| over the latents between the activations and
 * target t under permutation b. Every target is permuted by the same
 * permutation in a round, so one pass over the activations serves them all.
 */
export function permutationNull(
  latents: LatentColumns,
  targets: StandardisedTargets,
  groups: ArrayLike<number>,
  options: Partial<PermutationOptions> = {},
  signal?: AbortSignal,
): Float64Array[] {
  const o = permutationOptions(options);
  if (groups.length !== latents.n) throw new RangeError(`${groups.length} group labels for ${latents.n} rows`);
  const count = targets.constant.length;
  const rng = Rng.fromSeed(o.seed);
  const nullMax = targets.constant.map(() => new Float64Array(o.permutations));
  for (let b = 0; b < o.permutations; b++) {
    signal?.throwIfAborted();
    const perm = permuteWithinGroups(groups, rng, o.scheme);
    const r = toCorrelations(latents, accumulate(latents, targets, count, perm), count, targets.constant);
    for (let t = 0; t < count; t++) {
      let max = NaN;
      for (let j = t * latents.width; j < (t + 1) * latents.width; j++) {
        const a = Math.abs(r[j]);
        if (a > max || Number.isNaN(max)) max = a;
      }
      nullMax[t][b] = max;
    }
  }
  return nullMax;
}

/** Ties with the observed value count against it; float sums in another order can differ in the last bits. */
const TIE = 1e-12;

/** (1 + #{null maxima >= observed |r|}) / (1 + permutations); null without permutations or without an observed r. */
export function permutationP(observed: number, nullMax: Float64Array): number | null {
  if (nullMax.length === 0 || Number.isNaN(observed)) return null;
  let atLeast = 0;
  for (const m of nullMax) if (m >= Math.abs(observed) - TIE) atLeast++;
  return (1 + atLeast) / (1 + nullMax.length);
}
