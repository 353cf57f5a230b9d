import type { Sae } from './sae';
import { SaeSession, type SaeSessionOptions } from './session';
import type { ActivationSource } from './source';

/** Quality of an SAE on a set of activations. */
export interface SaeEvaluation {
  rows: number;
  /** Mean over rows of ||x - x_hat||^2 (summed over d_in, as the training loss). */
  mse: number;
  /** Fraction of variance unexplained: sum ||x - x_hat||^2 / sum ||x - mean(x)||^2. */
  fvu: number;
  /** Mean number of active latents per row. */
  l0: number;
  /** Fraction of latents that fired on none of the rows. */
  deadFraction: number;
  /** Per latent, the fraction of rows it fired on. */
  featureDensity: Float64Array;
  densityHistogram: DensityHistogram;
  /**
   * Cross-entropy loss recovered with the SAE spliced into the transformer,
   * (CE_zero-ablated - CE_spliced) / (CE_zero-ablated - CE_clean). It needs the
   * model, so it is filled in by the model runtime's evaluation, not here.
   */
  ceLossRecovered?: number;
}

/** Latents by log10 of their firing frequency; latents that never fired are counted apart. */
export interface DensityHistogram {
  /** Lower edges of the bins, in log10(density). */
  edges: number[];
  counts: number[];
  binWidth: number;
  dead: number;
}

export function densityHistogram(density: ArrayLike<number>, binWidth = 0.25): DensityHistogram {
  let min = 0;
  for (let i = 0; i < density.length; i++) if (density[i] > 0) min = Math.min(min, Math.log10(density[i]));
  const lowest = Math.floor(min / binWidth) * binWidth;
  const bins = Math.max(1, Math.round(-lowest / binWidth) + 1);
  const counts = new Array<number>(bins).fill(0);
  let dead = 0;
  for (let i = 0; i < density.length; i++) {
    if (density[i] > 0) counts[Math.min(bins - 1, Math.floor((Math.log10(density[i]) - lowest) / binWidth + 1e-9))]++;
    else dead++;
  }
  return { edges: counts.map((_, i) => lowest + i * binWidth), counts, binWidth, dead };
}

export interface EvaluateOptions extends SaeSessionOptions {
  /** Rows per session call. Default 4096. */
  chunkRows?: number;
  signal?: AbortSignal;
  /** A session already made for this SAE, to reuse. */
  session?: SaeSession;
}

/** MSE, FVU, L0, dead fraction and feature densities of an SAE over every row of a source. */
export async function evaluateSae(sae: Sae, source: ActivationSource, options: EvaluateOptions = {}): Promise<SaeEvaluation> {
  if (source.dIn !== sae.dIn) throw new RangeError(`the activations have ${source.dIn} dimensions, the SAE's d_in is ${sae.dIn}`);
  const session = options.session ?? SaeSession.create(sae, options);
  const d = sae.dIn;
  const sum = new Float64Array(d);
  let sumSq = 0;
  let sqErr = 0;
  let active = 0;
  let rows = 0;
  const fired = new Float64Array(sae.dSae);
  for await (const chunk of source.chunks(options.chunkRows ?? 4096, options.signal)) {
    const r = await session.evaluate(chunk);
    for (let i = 0; i < r.sqErr.length; i++) {
      sqErr += r.sqErr[i];
      active += r.l0[i];
    }
    for (let i = 0; i < fired.length; i++) fired[i] += r.fired[i];
    for (let i = 0; i < chunk.length; i++) {
      sum[i % d] += chunk[i];
      sumSq += chunk[i] * chunk[i];
    }
    rows += chunk.length / d;
  }
  if (!options.session) await session.release();
  if (rows === 0) throw new RangeError('no rows to evaluate');
  // sum ||x - mean||^2 = sum ||x||^2 - N ||mean||^2, accumulated in float64.
  let meanSq = 0;
  for (let j = 0; j < d; j++) meanSq += (sum[j] / rows) ** 2;
  const variance = sumSq - rows * meanSq;
  const featureDensity = fired.map((f) => f / rows);
  return {
    rows,
    mse: sqErr / rows,
    fvu: sqErr / variance,
    l0: active / rows,
    deadFraction: featureDensity.filter((f) => f === 0).length / sae.dSae,
    featureDensity,
    densityHistogram: densityHistogram(featureDensity),
  };
}
