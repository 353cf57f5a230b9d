import type { DeltaFn, Interventions, LanguageModel } from '../lm';
import type { Sae } from './sae';
import { SaeSession, type SaeSessionOptions } from './session';
import type { ActivationSource } from './source';
import { reconstructionDelta } from './splice';

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
   * (CE_zero-ablated - CE_spliced) / (CE_zero-ablated - CE_clean); present when
   * the evaluation was given a model and token sequences (`EvaluateOptions.splice`).
   */
  ceLossRecovered?: number;
  /** The three losses behind it. */
  ceLoss?: CeLossResult;
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
  /** Also measure the CE loss recovered with the SAE spliced into this model's block (see {@link ceLossRecovered}). */
  splice?: { model: LanguageModel; sequences: readonly (readonly number[])[]; block: number; batchSize?: number };
}

/** Next-token cross-entropy of a transformer as it is, with an SAE spliced in at one block, and with that block's output zeroed. */
export interface CeLossResult {
  block: number;
  /** Tokens predicted: all but the first of each sequence. */
  tokens: number;
  /** Mean next-token cross-entropy over those tokens, in nats. */
  clean: number;
  spliced: number;
  zeroAblated: number;
  /**
   * (zeroAblated - spliced) / (zeroAblated - clean): 1 when the SAE's
   * reconstruction costs the model nothing, 0 when it is as bad as no residual
   * stream at all (NaN if zeroing the block does not change the loss).
   */
  recovered: number;
}

export interface CeLossOptions extends SaeSessionOptions {
  /** Sequences per forward pass. Default 8. */
  batchSize?: number;
  signal?: AbortSignal;
  /** A session already made for this SAE, to reuse. */
  session?: SaeSession;
}

/** Sum over positions 0..n-2 of -log softmax(logits[t])[ids[t + 1]], in float64. */
function nextTokenLoss(logits: Float32Array, ids: readonly number[], vocab: number): number {
  let total = 0;
  for (let t = 0; t + 1 < ids.length; t++) {
    const row = logits.subarray(t * vocab, (t + 1) * vocab);
    let max = -Infinity;
    for (let v = 0; v < vocab; v++) max = Math.max(max, row[v]);
    let sum = 0;
    for (let v = 0; v < vocab; v++) sum += Math.exp(row[v] - max);
    total += max + Math.log(sum) - row[ids[t + 1]];
  }
  return total;
}

/**
 * CE loss recovered (as SAELens and the SAE literature report it): the model's
 * mean next-token cross-entropy on `sequences` clean; with the residual stream
 * after `block` replaced by the SAE's reconstruction, through the block's delta
 * input (delta = decode(encode(x)) - x); and with that stream zeroed
 * (delta = -x). Each intervened pass reads the stream, then runs again with the
 * delta, so the later blocks see exactly the spliced stream.
 */
export async function ceLossRecovered(
  model: LanguageModel,
  sequences: readonly (readonly number[])[],
  block: number,
  sae: Sae,
  options: CeLossOptions = {},
): Promise<CeLossResult> {
  if (sae.dIn !== model.info.dModel) throw new RangeError(`the SAE's d_in is ${sae.dIn}, the model's residual stream has ${model.info.dModel} dimensions`);
  const usable = sequences.filter((s) => s.length >= 2);
  if (usable.length === 0) throw new RangeError('the CE loss needs at least one sequence of two or more tokens');
  const batchSize = options.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  const session = options.session ?? SaeSession.create(sae, options);
  const splice = reconstructionDelta(session, 'all');
  // Padding rows' deltas are ignored, so every row can be negated.
  const zero: DeltaFn = (r) => r.data.map((v) => -v);
  const totals = { clean: 0, spliced: 0, zeroAblated: 0 };
  const passes: [keyof typeof totals, Interventions | undefined][] = [
    ['clean', undefined],
    ['spliced', { [block]: splice }],
    ['zeroAblated', { [block]: zero }],
  ];
  let tokens = 0;
  try {
    for (let start = 0; start < usable.length; start += batchSize) {
      const batch = usable.slice(start, start + batchSize);
      for (const [name, interventions] of passes) {
        const result = await model.forward(batch, { allPositions: true, interventions, signal: options.signal });
        batch.forEach((ids, b) => (totals[name] += nextTokenLoss(result.logits[b], ids, result.vocab)));
      }
      tokens += batch.reduce((n, ids) => n + ids.length - 1, 0);
    }
  } finally {
    if (!options.session) await session.release();
  }
  const [clean, spliced, zeroAblated] = [totals.clean / tokens, totals.spliced / tokens, totals.zeroAblated / tokens];
  return { block, tokens, clean, spliced, zeroAblated, recovered: (zeroAblated - spliced) / (zeroAblated - clean) };
}

/** MSE, FVU, L0, dead fraction and feature densities of an SAE over every row of a source; with `splice`, the CE loss recovered too. */
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
  let ceLoss: CeLossResult | undefined;
  try {
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
    if (rows === 0) throw new RangeError('no rows to evaluate');
    const splice = options.splice;
    if (splice) ceLoss = await ceLossRecovered(splice.model, splice.sequences, splice.block, sae, { batchSize: splice.batchSize, signal: options.signal, session });
  } finally {
    if (!options.session) await session.release();
  }
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
    ...(ceLoss ? { ceLossRecovered: ceLoss.recovered, ceLoss } : {}),
  };
}
