import type { Rng } from '../../random';
import type { Ops } from '../graph';

/** Names of the parameter tensors inside a graph, keyed by their SAELens names. */
export type ParamNames = Record<string, string>;

/** A stored parameter: its SAELens name and its shape in terms of d_in and d_sae. */
export interface ParamSpec {
  name: string;
  shape: (dIn: number, dSae: number) => number[];
}

/** What every SAELens architecture stores: the encoder, the decoder and their biases. */
export const CORE_PARAMS: readonly ParamSpec[] = [
  { name: 'W_enc', shape: (dIn, dSae) => [dIn, dSae] },
  { name: 'b_enc', shape: (_dIn, dSae) => [dSae] },
  { name: 'W_dec', shape: (dIn, dSae) => [dSae, dIn] },
  { name: 'b_dec', shape: (dIn) => [dIn] },
];

export interface EncodeContext {
  ops: Ops;
  /** The input after any b_dec subtraction: [batch, d_in]. */
  input: string;
  params: ParamNames;
}

/** The encoder's pre-activations and the latent activations, both [batch, d_sae]. */
export interface Encoded {
  pre: string;
  acts: string;
}

/**
 * The name training graphs give the decoder, which they hold transposed: W_dec^T,
 * [d_in, d_sae]. Every matrix product with it then has an untransposed first
 * operand; MLAS copies a transposed first operand into a panel once for every
 * 128 columns of the result, which made the decoder-gradient product the slowest
 * of a step. The Loop transposes on the way in and out, so the model's inputs and
 * outputs, and saved SAEs, keep SAELens' W_dec [d_sae, d_in].
 */
export const DECODER_T = 'W_decT';

export interface StepContext {
  ops: Ops;
  /** The batch as given: [batch, d_in]. */
  x: string;
  /** x with b_dec subtracted when the SAE applies b_dec to its input, else x. */
  input: string;
  /** The parameters by SAELens name, except the decoder: `params[DECODER_T]` holds W_dec^T. */
  params: ParamNames;
  /** This step's value of each scheduled coefficient (a scalar tensor). */
  coefficients: Record<string, string>;
  /** Steps since each latent last fired, [d_sae], before this step. */
  stepsSinceFired: string;
  /** 1 / batch size, a scalar tensor. */
  invBatch: string;
  /**
   * Values the loss treats as constants (a stop-gradient), given from outside
   * instead of computed. Used only by the finite-difference check, which must
   * hold them fixed to differentiate the same function the backward pass does.
   */
  frozen?: Record<string, string>;
}

export interface StepResult {
  /** The latent activations of the batch, [batch, d_sae]. */
  acts: string;
  /** The loss being minimised, a scalar. */
  loss: string;
  /** Its named parts (scalars), for progress reports: e.g. mse, l1, aux. */
  parts: Record<string, string>;
  /**
   * dLoss/dParam for every trained parameter, keyed as the step's params (the
   * decoder's as dLoss/dW_dec^T under DECODER_T). For b_dec only the decoder's term:
   * when b_dec is subtracted from the input, the caller adds -W_enc dLoss/db_enc,
   * which holds for every encoder of the form pre = input W_enc + b_enc.
   */
  grads: ParamNames;
  /** Values held constant in the loss (see {@link StepContext.frozen}), by name. */
  detached: Record<string, string>;
}

/** Training hyper-parameters an architecture reads (already validated by the options). */
export interface ArchTrainingSettings {
  /** Steps without firing after which a latent counts as dead. */
  deadSteps: number;
  /** TopK: auxiliary-loss coefficient and number of dead latents it uses. */
  auxKCoefficient: number;
  kAux: number;
}

/**
 * One SAE architecture: its stored configuration, its encoder as a graph
 * fragment, and (if it can be trained here) its hand-derived training step.
 * Decoding, x_hat = f W_dec + b_dec, is shared by every architecture SAELens has.
 */
export interface SaeArchitecture<Config = Record<string, number>> {
  /** The SAELens `architecture` string. */
  name: string;
  params: readonly ParamSpec[];
  /** Reads the architecture's own keys from cfg.json; errors name the key. */
  readConfig(cfg: Record<string, unknown>, dSae: number): Config;
  /** The architecture's own keys for cfg.json. */
  writeConfig(config: Config): Record<string, unknown>;
  encode(ctx: EncodeContext, config: Config): Encoded;
  training?: ArchTraining<Config>;
}

export interface ArchTraining<Config> {
  /** Coefficients that may change every step (fed as one value per step), e.g. the L1 coefficient with its warm-up. */
  coefficients: readonly string[];
  /** Whether decoder rows are held at unit norm (gradient projected, rows renormalised after each step). */
  unitNormDecoder: boolean;
  init(rng: Rng, dIn: number, dSae: number, config: Config): Record<string, Float32Array>;
  step(ctx: StepContext, config: Config, settings: ArchTrainingSettings): StepResult;
}
