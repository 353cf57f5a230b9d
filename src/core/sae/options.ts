import { checkInteger, checkKnownKeys, checkNumber, checkOneOf, ConfigError } from '../config';
import { ARCHITECTURES } from './architectures';
import type { SaeDtype } from './sae';

/**
 * How an SAE is trained. Every field has a default (below, with the reason);
 * the paper fixes only "Adam with default parameters" and the number of epochs.
 */
export interface TrainOptions {
  /** A registry architecture that can be trained here: 'standard' (ReLU + L1, the paper's kind) or 'topk'. */
  architecture: string;
  /** d_sae = expansionFactor * d_in, unless dSae is given. Default 8. */
  expansionFactor: number;
  /** Number of latents; overrides expansionFactor when set. */
  dSae?: number;
  /** standard: weight of the decoder-norm-weighted L1 penalty. Default 5 (Anthropic's value for inputs normalised to norm sqrt(d_in)). */
  l1Coefficient: number;
  /** standard: the L1 coefficient rises linearly from 0 over this fraction of training. Default 0.05 (Anthropic). */
  l1WarmupFraction: number;
  /** topk: latents active per row. Default 32, at most d_sae. */
  k: number;
  /** topk: dead latents in the auxiliary loss. Default d_in / 2 (Gao et al.'s heuristic, SAELens' choice). */
  kAux?: number;
  /** topk: weight of the auxiliary loss. Default 1/32 (Gao et al.). */
  auxKCoefficient: number;
  /** A latent that has not fired on this many training rows counts as dead. Default 2^20 (about a million tokens). */
  deadAfterRows: number;
  /** Adam's learning rate. Default 3e-4 (SAELens' default). */
  learningRate: number;
  /** The learning rate rises linearly from 0 over this fraction of training. Default 0.01. */
  lrWarmupFraction: number;
  /** ... and falls linearly to 0 over this final fraction. Default 0.2 (Anthropic). */
  lrDecayFraction: number;
  /** Adam's parameters; defaults are PyTorch's, which the paper used. */
  beta1: number;
  beta2: number;
  epsilon: number;
  /** Passes over the data. Default 30 (the paper, two-step task). */
  epochs: number;
  /** Rows per step. Default 1024: the datasets here are small, and smaller batches give more steps per epoch. */
  batchSize: number;
  /** Scale inputs to mean norm sqrt(d_in) while training (the scale is folded into the saved weights). Default true. */
  normalizeActivations: boolean;
  /**
   * Train on ZCA-whitened inputs, W (x - mean) with W = C^-1/2 from the normalisation
   * sample, so that the loss weighs every direction alike and quiet ones are kept; the
   * whitening is folded into the saved weights. Default false (SAELens trains on raw rows).
   */
  whiten: boolean;
  /** Start b_dec at the data mean (else zero). Default true. */
  initBDecAtMean: boolean;
  /** The encoder sees x - b_dec (SAELens' apply_b_dec_to_input). Default true: with b_dec at the mean, the encoder sees centred data from the first step. */
  applyBDecToInput: boolean;
  /** Rows used to estimate the normalisation scale and the mean. Default 65536. */
  sampleRows: number;
  /** Steps run inside one session call (an ONNX Loop). Default 8. */
  stepsPerRun: number;
  /** Precision of the saved weights. Default float32. */
  dtype: SaeDtype;
  /** Seeds the initialisation and the order of the batches. Default 0. */
  seed: number;
}

export const DEFAULT_TRAIN_OPTIONS: Readonly<Omit<TrainOptions, 'dSae' | 'kAux'>> = {
  architecture: 'standard',
  expansionFactor: 8,
  l1Coefficient: 5,
  l1WarmupFraction: 0.05,
  k: 32,
  auxKCoefficient: 1 / 32,
  deadAfterRows: 2 ** 20,
  learningRate: 3e-4,
  lrWarmupFraction: 0.01,
  lrDecayFraction: 0.2,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
  epochs: 30,
  batchSize: 1024,
  normalizeActivations: true,
  whiten: false,
  initBDecAtMean: true,
  applyBDecToInput: true,
  sampleRows: 65536,
  stepsPerRun: 8,
  dtype: 'float32',
  seed: 0,
};

/** Options with every default applied and the derived sizes fixed for a given d_in. */
export interface ResolvedTrainOptions extends TrainOptions {
  dSae: number;
  kAux: number;
}

const KNOWN = [...Object.keys(DEFAULT_TRAIN_OPTIONS), 'dSae', 'kAux'];

function checkBoolean(field: string, value: unknown): void {
  if (typeof value !== 'boolean') throw new ConfigError(field, value, 'true or false');
}

/** Applies defaults and validates, once, at the boundary. Errors name the field, the value and what is allowed. */
export function resolveTrainOptions(partial: Partial<TrainOptions>, dIn: number): ResolvedTrainOptions {
  checkKnownKeys('sae', partial, KNOWN);
  const o = { ...DEFAULT_TRAIN_OPTIONS, ...partial };
  const trainable = Object.values(ARCHITECTURES).filter((a) => a.training).map((a) => a.name);
  checkOneOf('sae.architecture', o.architecture, trainable);
  checkNumber('sae.expansionFactor', o.expansionFactor, 1 / dIn, 1024);
  const dSae = o.dSae ?? Math.round(o.expansionFactor * dIn);
  checkInteger('sae.dSae', dSae, 1);
  checkNumber('sae.l1Coefficient', o.l1Coefficient, 0);
  checkNumber('sae.l1WarmupFraction', o.l1WarmupFraction, 0, 1);
  checkInteger('sae.k', o.k, 1);
  if (o.architecture === 'topk' && o.k > dSae) throw new ConfigError('sae.k', o.k, `an integer in [1, d_sae = ${dSae}]`);
  const kAux = Math.min(o.kAux ?? Math.max(1, Math.floor(dIn / 2)), dSae);
  checkInteger('sae.kAux', kAux, 1);
  checkNumber('sae.auxKCoefficient', o.auxKCoefficient, 0);
  checkInteger('sae.deadAfterRows', o.deadAfterRows, 1);
  checkNumber('sae.learningRate', o.learningRate, Number.MIN_VALUE, 10);
  checkNumber('sae.lrWarmupFraction', o.lrWarmupFraction, 0, 1);
  checkNumber('sae.lrDecayFraction', o.lrDecayFraction, 0, 1);
  if (o.lrWarmupFraction + o.lrDecayFraction > 1) {
    throw new ConfigError('sae.lrDecayFraction', o.lrDecayFraction, `at most 1 - lrWarmupFraction = ${1 - o.lrWarmupFraction}`);
  }
  checkNumber('sae.beta1', o.beta1, 0, 0.999999);
  checkNumber('sae.beta2', o.beta2, 0, 0.999999999);
  checkNumber('sae.epsilon', o.epsilon, Number.MIN_VALUE, 1);
  checkInteger('sae.epochs', o.epochs, 1);
  checkInteger('sae.batchSize', o.batchSize, 1);
  checkBoolean('sae.normalizeActivations', o.normalizeActivations);
  checkBoolean('sae.whiten', o.whiten);
  checkBoolean('sae.initBDecAtMean', o.initBDecAtMean);
  checkBoolean('sae.applyBDecToInput', o.applyBDecToInput);
  checkInteger('sae.sampleRows', o.sampleRows, 1);
  checkInteger('sae.stepsPerRun', o.stepsPerRun, 1, 1024);
  checkOneOf('sae.dtype', o.dtype, ['float32', 'float16', 'bfloat16']);
  checkInteger('sae.seed', o.seed, -(2 ** 31), 2 ** 31 - 1);
  return { ...o, dSae, kAux };
}
