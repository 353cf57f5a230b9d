import { checkInteger, checkProbability } from '../config';
import { Rng } from '../random';
import type { Sae } from '../sae/sae';

/**
 * The random-SAE baseline: an SAE of the trained one's width whose encoder
 * reads random directions, so that any correlation it finds is what width and
 * sparsity alone buy. Its latents are
 *
 *   f_j(x) = ReLU((x - b_dec) . w_j + b_j),
 *
 * b_dec the mean of the sample, w_j a uniformly random unit vector (a Gaussian
 * vector normalised), and b_j set so that latent j fires on the wanted fraction of
 * the sample: at the midpoint between the sorted projections on either side of
 * that fraction. The decoder is the encoder's transpose (unused by the scan, kept
 * so the SAE is complete). It is a standard SAELens SAE: encode it with
 * `SaeSession` like a trained one.
 */
export interface RandomSaeOptions {
  dSae: number;
  seed: number;
  /**
   * Fraction of sample rows each latent fires on: one rate for all, or one per
   * latent (e.g. the trained SAE's rates from {@link fireRates}, to match its
   * distribution of densities).
   */
  fireRate: number | ArrayLike<number>;
}

/** @param sample rows [m, dIn] of the residual stream the SAE will be applied to */
export function randomSae(sample: Float32Array, dIn: number, options: RandomSaeOptions): Sae {
  const { dSae, seed, fireRate } = options;
  checkInteger('randomSae.dIn', dIn, 1);
  checkInteger('randomSae.dSae', dSae, 1);
  checkInteger('randomSae.seed', seed);
  if (sample.length === 0 || sample.length % dIn !== 0) throw new RangeError(`randomSae: the sample (${sample.length} values) must be one or more rows of ${dIn}`);
  const rates = typeof fireRate === 'number' ? new Float64Array(dSae).fill(fireRate) : Float64Array.from(fireRate);
  if (rates.length !== dSae) throw new RangeError(`randomSae: ${rates.length} fire rates for ${dSae} latents`);
  rates.forEach((r, j) => checkProbability(`randomSae.fireRate[${j}]`, r));

  const m = sample.length / dIn;
  const bDec = new Float32Array(dIn);
  const sums = new Float64Array(dIn);
  for (let i = 0; i < m; i++) for (let k = 0; k < dIn; k++) sums[k] += sample[i * dIn + k];
  for (let k = 0; k < dIn; k++) bDec[k] = sums[k] / m;

  const rng = Rng.fromSeed(seed);
  const wEnc = new Float32Array(dIn * dSae);
  const wDec = new Float32Array(dSae * dIn);
  const bEnc = new Float32Array(dSae);
  const w = new Float64Array(dIn);
  const projections = new Float64Array(m);
  for (let j = 0; j < dSae; j++) {
    let norm = 0;
    for (let k = 0; k < dIn; k++) {
      w[k] = rng.normal();
      norm += w[k] * w[k];
    }
    norm = Math.sqrt(norm);
    for (let k = 0; k < dIn; k++) {
      // Rounded to float32 first, so the bias is placed for the weights the encoder will use.
      const v = Math.fround(w[k] / norm);
      w[k] = v;
      wEnc[k * dSae + j] = v;
      wDec[j * dIn + k] = v;
    }
    for (let i = 0; i < m; i++) {
      let s = 0;
      for (let k = 0; k < dIn; k++) s += (sample[i * dIn + k] - bDec[k]) * w[k];
      projections[i] = s;
    }
    bEnc[j] = biasFor(projections.slice().sort(), rates[j]);
  }
  return {
    architecture: 'standard',
    dIn,
    dSae,
    config: {},
    applyBDecToInput: true,
    normalizeActivations: 'none',
    dtype: 'float32',
    params: { W_enc: wEnc, b_enc: bEnc, W_dec: wDec, b_dec: bDec },
    metadata: {},
    extraConfig: { icrl_lens: { baseline: 'random', seed, sampleRows: m } },
    extraTensors: new Map(),
    weightsMetadata: {},
  };
}

/**
 * The bias that makes round(rate * m) of the sorted projections positive: minus
 * the midpoint of the two values either side of the cut (beyond the ends when
 * all or none should fire).
 */
function biasFor(sorted: Float64Array, rate: number): number {
  const m = sorted.length;
  const firing = Math.round(rate * m);
  if (firing === 0) return -(sorted[m - 1] + 1);
  if (firing === m) return -(sorted[0] - 1);
  return -(sorted[m - firing - 1] + sorted[m - firing]) / 2;
}

/** The fraction of rows on which each latent is above 0, from activations [n, width]. */
export function fireRates(acts: Float32Array, width: number): Float64Array {
  if (acts.length % width !== 0) throw new RangeError(`${acts.length} activations are not whole rows of ${width} latents`);
  const n = acts.length / width;
  const rates = new Float64Array(width);
  for (let i = 0; i < n; i++) for (let j = 0; j < width; j++) if (acts[i * width + j] > 0) rates[j]++;
  for (let j = 0; j < width; j++) rates[j] /= n;
  return rates;
}
