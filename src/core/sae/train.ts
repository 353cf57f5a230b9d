import * as ort from 'onnxruntime-node';
import { encodeModel } from '../onnx/builder';
import { Rng } from '../random';
import { architecture, type SaeArchitecture } from './architectures';
import { resolveTrainOptions, type ResolvedTrainOptions, type TrainOptions } from './options';
import type { Sae, SaeMetadata } from './sae';
import type { ActivationSource } from './source';
import { buildTrainingModel, momentName, outName, type TrainingGraphSpec } from './trainingGraph';
import { fitWhitening, foldWhitening, whiten, type Whitening } from './whitening';

/** A report after each session call (every `stepsPerRun` steps). */
export interface TrainProgress {
  /** The block this SAE is for, when several are trained in one pass. */
  block?: number;
  /** Steps done, and in all. */
  step: number;
  totalSteps: number;
  epoch: number;
  epochs: number;
  /** Means over the steps of this call. */
  loss: number;
  parts: Record<string, number>;
  l0: number;
  /** Fraction of latents that have not fired for `deadAfterRows` rows. */
  deadFraction: number;
  learningRate: number;
}

export interface TrainHooks {
  onProgress?: (p: TrainProgress) => void;
  signal?: AbortSignal;
  /** SAELens metadata for the saved SAE (model_name, hook_name, hook_layer, ...). */
  metadata?: SaeMetadata;
  /** Execution providers for the session, in order of preference. Default ['cpu']. */
  executionProviders?: string[];
}

export interface TrainResult {
  sae: Sae;
  /** One entry per session call. */
  history: TrainProgress[];
  /** The factor inputs were multiplied by while training (folded into the saved weights). */
  normScale: number;
  options: ResolvedTrainOptions;
}

/** Training stopped because the loss stopped being a finite number. */
export class TrainingDivergedError extends Error {
  constructor(
    readonly step: number,
    readonly reason: string,
    readonly suggestion: string,
  ) {
    super(`training diverged at step ${step}: ${reason}. ${suggestion}`);
    this.name = 'TrainingDivergedError';
  }
}

/**
 * The training session's options. Its threads wait for work without spinning: the
 * trainer shares the machine (the editor, the kernel, reading the store, other
 * trainers), and a spinning waiter holds a core the work needs. On a busy 2-core
 * machine that made steps several times slower (PyTorch's OMP_WAIT_POLICY=PASSIVE
 * is the same choice).
 */
export const TRAINER_SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  graphOptimizationLevel: 'all',
  extra: { session: { intra_op: { allow_spinning: '0' } } },
};

/** Steps without firing after which a latent counts as dead. */
const deadStepsOf = (o: ResolvedTrainOptions) => Math.ceil(o.deadAfterRows / o.batchSize);

function requireTrainable(name: string): SaeArchitecture<unknown> {
  const arch = architecture(name);
  if (!arch?.training) throw new Error(`architecture ${name} cannot be trained here`);
  return arch;
}

/** Mean row norm and mean row of a sample. */
function sampleStatistics(sample: Float32Array, dIn: number): { meanNorm: number; mean: Float64Array } {
  const rows = sample.length / dIn;
  const mean = new Float64Array(dIn);
  let normSum = 0;
  for (let r = 0; r < rows; r++) {
    let sq = 0;
    for (let j = 0; j < dIn; j++) {
      const v = sample[r * dIn + j];
      sq += v * v;
      mean[j] += v;
    }
    normSum += Math.sqrt(sq);
  }
  for (let j = 0; j < dIn; j++) mean[j] /= rows;
  return { meanNorm: normSum / rows, mean };
}

function allFinite(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
}

/**
 * The state of one SAE being trained: its session, parameters, Adam moments and
 * dead-latent counters, fed batches one at a time and run `stepsPerRun` at a time.
 */
export class SaeTrainer {
  private params: Record<string, Float32Array>;
  private moments: Record<string, Float32Array> = {};
  private stepsDone = 0;
  private stepsSinceFired: Float32Array;
  private readonly buffer: Float32Array;
  private buffered = 0;
  private readonly deadSteps: number;
  readonly history: TrainProgress[] = [];
  epoch = 0;

  private constructor(
    readonly options: ResolvedTrainOptions,
    readonly dIn: number,
    readonly totalSteps: number,
    readonly normScale: number,
    private readonly arch: SaeArchitecture<unknown>,
    private readonly session: ort.InferenceSession,
    init: Record<string, Float32Array>,
    readonly block: number | undefined,
    /** The whitening applied to every row before the scale, when training whitened. */
    private readonly whitening: Whitening | null,
  ) {
    this.params = init;
    for (const { name } of arch.params) {
      this.moments[momentName('m', name)] = new Float32Array(init[name].length);
      this.moments[momentName('v', name)] = new Float32Array(init[name].length);
    }
    this.stepsSinceFired = new Float32Array(options.dSae);
    this.buffer = new Float32Array(options.stepsPerRun * options.batchSize * dIn);
    this.deadSteps = deadStepsOf(options);
  }

  /**
   * Builds the training session and initial parameters. `sample` (raw rows) sets
   * the normalisation scale and the initial b_dec; `totalSteps` the schedules.
   */
  static async create(
    options: ResolvedTrainOptions,
    dIn: number,
    sample: Float32Array,
    totalSteps: number,
    hooks: { executionProviders?: string[]; block?: number } = {},
  ): Promise<SaeTrainer> {
    const arch = requireTrainable(options.architecture);
    if ((options.normalizeActivations || options.initBDecAtMean || options.whiten) && !allFinite(sample)) {
      throw new TrainingDivergedError(0, 'the rows sampled for normalisation hold NaN or infinite activations', 'Check the activation store: the model produced non-finite values for some tokens.');
    }
    const whitening = options.whiten ? fitWhitening(sample, dIn) : null;
    // Whitened, the scale and the initial b_dec are those of the whitened rows (mean norm about sqrt(d_in), mean 0).
    const stats = sampleStatistics(whitening ? whiten(whitening, sample, dIn, 1) : sample, dIn);
    if ((options.normalizeActivations || options.initBDecAtMean) && !(stats.meanNorm > 0)) {
      throw new TrainingDivergedError(0, 'the rows sampled for normalisation are all zero', 'Check the activation store.');
    }
    const normScale = options.normalizeActivations ? Math.sqrt(dIn) / stats.meanNorm : 1;
    const spec: TrainingGraphSpec = {
      arch,
      config: { k: options.k },
      dIn,
      dSae: options.dSae,
      elem: 'float32',
      applyBDecToInput: options.applyBDecToInput,
      settings: { deadSteps: deadStepsOf(options), auxKCoefficient: options.auxKCoefficient, kAux: options.kAux },
      adam: { beta1: options.beta1, beta2: options.beta2, epsilon: options.epsilon },
    };
    const session = await ort.InferenceSession.create(encodeModel(buildTrainingModel(spec)), {
      ...TRAINER_SESSION_OPTIONS,
      executionProviders: hooks.executionProviders ?? ['cpu'],
    });
    const init = arch.training!.init(Rng.fromSeed(options.seed), dIn, options.dSae, spec.config);
    if (options.initBDecAtMean) for (let j = 0; j < dIn; j++) init.b_dec[j] = stats.mean[j] * normScale;
    return new SaeTrainer(options, dIn, totalSteps, normScale, arch, session, init, hooks.block, whitening);
  }

  get step(): number {
    return this.stepsDone;
  }

  /** Adds one batch; runs the session once `stepsPerRun` batches are waiting. Shorter batches are skipped. */
  async push(batch: Float32Array, onProgress?: (p: TrainProgress) => void): Promise<void> {
    const size = this.options.batchSize * this.dIn;
    if (batch.length !== size) return;
    const offset = this.buffered * size;
    if (this.whitening) whiten(this.whitening, batch, this.dIn, this.normScale, this.buffer.subarray(offset, offset + size));
    else for (let i = 0; i < size; i++) this.buffer[offset + i] = batch[i] * this.normScale;
    this.buffered++;
    if (this.buffered === this.options.stepsPerRun) await this.run(onProgress);
  }

  /** Runs whatever batches are waiting. */
  async flush(onProgress?: (p: TrainProgress) => void): Promise<void> {
    if (this.buffered > 0) await this.run(onProgress);
  }

  learningRateAt(t: number): number {
    const o = this.options;
    const warm = Math.max(1, Math.round(o.lrWarmupFraction * this.totalSteps));
    const decay = Math.round(o.lrDecayFraction * this.totalSteps);
    let factor = Math.min(1, (t + 1) / warm);
    if (decay > 0 && t >= this.totalSteps - decay) factor *= (this.totalSteps - t) / decay;
    return o.learningRate * factor;
  }

  l1CoefficientAt(t: number): number {
    const warm = Math.max(1, Math.round(this.options.l1WarmupFraction * this.totalSteps));
    return this.options.l1Coefficient * Math.min(1, (t + 1) / warm);
  }

  private async run(onProgress?: (p: TrainProgress) => void): Promise<void> {
    const k = this.buffered;
    const { batchSize, dSae } = this.options;
    const f32 = (data: Float32Array, dims: number[]) => new ort.Tensor('float32', data, dims);
    const feeds: Record<string, ort.Tensor> = {
      x: f32(k === this.options.stepsPerRun ? this.buffer : this.buffer.slice(0, k * batchSize * this.dIn), [k, batchSize, this.dIn]),
      lr: f32(Float32Array.from({ length: k }, (_, i) => this.learningRateAt(this.stepsDone + i)), [k]),
      step: f32(new Float32Array([this.stepsDone]), []),
      steps_since_fired: f32(this.stepsSinceFired, [dSae]),
    };
    for (const c of this.arch.training!.coefficients) {
      if (c !== 'l1Coefficient') throw new Error(`no schedule for coefficient ${c}`);
      feeds[`coef_${c}`] = f32(Float32Array.from({ length: k }, (_, i) => this.l1CoefficientAt(this.stepsDone + i)), [k]);
    }
    for (const spec of this.arch.params) {
      const dims = spec.shape(this.dIn, dSae);
      feeds[spec.name] = f32(this.params[spec.name], dims);
      feeds[momentName('m', spec.name)] = f32(this.moments[momentName('m', spec.name)], dims);
      feeds[momentName('v', spec.name)] = f32(this.moments[momentName('v', spec.name)], dims);
    }
    const out = await this.session.run(feeds);
    const losses = out.loss.data as Float32Array;
    const parts = Object.keys(out).filter((n) => n.startsWith('part_'));
    for (let i = 0; i < k; i++) {
      if (!Number.isFinite(losses[i])) this.diverged(this.stepsDone + i + 1, i, parts.map((p) => [p.slice(5), (out[p].data as Float32Array)[i]]));
    }
    for (const spec of this.arch.params) {
      this.params[spec.name] = out[outName(spec.name)].data as Float32Array;
      for (const m of ['m', 'v'] as const) this.moments[momentName(m, spec.name)] = out[outName(momentName(m, spec.name))].data as Float32Array;
    }
    this.stepsSinceFired = out[outName('steps_since_fired')].data as Float32Array;
    const lastLr = (feeds.lr.data as Float32Array)[k - 1];
    this.stepsDone += k;
    this.buffered = 0;

    const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
    let dead = 0;
    for (const s of this.stepsSinceFired) if (s >= this.deadSteps) dead++;
    const progress: TrainProgress = {
      ...(this.block === undefined ? {} : { block: this.block }),
      step: this.stepsDone,
      totalSteps: this.totalSteps,
      epoch: this.epoch,
      epochs: this.options.epochs,
      loss: mean(losses),
      parts: Object.fromEntries(parts.map((p) => [p.slice(5), mean(out[p].data as Float32Array)])),
      l0: mean(out.l0.data as Float32Array),
      deadFraction: dead / dSae,
      learningRate: lastLr,
    };
    this.history.push(progress);
    onProgress?.(progress);
  }

  /** Names the first non-finite step's cause and what to try, then throws. */
  private diverged(step: number, index: number, parts: [string, number][]): never {
    const size = this.options.batchSize * this.dIn;
    if (!allFinite(this.buffer.subarray(index * size, (index + 1) * size))) {
      throw new TrainingDivergedError(step, 'the batch itself holds NaN or infinite activations', 'Check the activation store: the model produced non-finite values for some tokens.');
    }
    const bad = parts.filter(([, v]) => !Number.isFinite(v)).map(([name]) => name);
    const which = bad.length > 0 ? `the ${bad.join(' and ')} loss became ${bad.map((n) => parts.find((p) => p[0] === n)![1]).join(', ')}` : 'the loss became non-finite';
    throw new TrainingDivergedError(
      step,
      which,
      `Lower learningRate (now ${this.options.learningRate})` +
        (this.options.normalizeActivations ? '' : ', or set normalizeActivations: true') +
        (this.options.architecture === 'standard' ? `, or lower l1Coefficient (now ${this.options.l1Coefficient})` : '') +
        '.',
    );
  }

  /** The trained SAE, with the normalisation scale folded into its weights. */
  toSae(metadata: SaeMetadata = {}): Sae {
    for (const [name, values] of Object.entries(this.params)) {
      if (!allFinite(values)) throw new TrainingDivergedError(this.stepsDone, `parameter ${name} holds non-finite values`, `Lower learningRate (now ${this.options.learningRate}).`);
    }
    const s = this.normScale;
    const o = this.options;
    let params: Record<string, Float32Array> = Object.fromEntries(Object.entries(this.params).map(([n, v]) => [n, Float32Array.from(v)]));
    if (this.whitening) {
      params = foldWhitening(params, this.whitening, this.dIn, o.dSae, s, o.applyBDecToInput);
    } else {
      // Trained on s x: encode(x) is unchanged with W_enc s and b_dec / s, decode returns x_hat / s with W_dec / s and b_dec / s.
      params.W_enc = params.W_enc.map((v) => v * s);
      params.W_dec = params.W_dec.map((v) => v / s);
      params.b_dec = params.b_dec.map((v) => v / s);
    }
    return {
      architecture: o.architecture,
      dIn: this.dIn,
      dSae: o.dSae,
      config: o.architecture === 'topk' ? { k: o.k } : {},
      applyBDecToInput: o.applyBDecToInput,
      normalizeActivations: 'none',
      dtype: o.dtype,
      params,
      metadata,
      extraConfig: {
        icrl_lens: {
          ...(this.block === undefined ? {} : { block: this.block }),
          training: { ...o },
          normalization: { scale: s, folded: true, ...(this.whitening ? { whitened: true } : {}) },
          steps: this.stepsDone,
          finalDeadFraction: this.history.at(-1)?.deadFraction ?? 0,
        },
      },
      extraTensors: new Map(),
      weightsMetadata: {},
    };
  }
}

function stepsFor(rowCount: number, o: ResolvedTrainOptions): number {
  const perEpoch = Math.floor(rowCount / o.batchSize);
  if (perEpoch === 0) {
    throw new RangeError(`sae.batchSize = ${o.batchSize} is larger than the ${rowCount} rows available: use a batch size of at most ${rowCount}`);
  }
  return perEpoch * o.epochs;
}

/** Seeds for the normalisation sample and each epoch's order, all from the one seed. */
function seeds(seed: number, epochs: number): { sample: number; epochs: number[] } {
  const rng = Rng.fromSeed(seed ^ 0x5ae);
  return { sample: rng.int(0, 2 ** 31 - 1), epochs: Array.from({ length: epochs }, () => rng.int(0, 2 ** 31 - 1)) };
}

/** Trains one SAE on a source of activations. */
export async function trainSae(source: ActivationSource, options: Partial<TrainOptions>, hooks: TrainHooks = {}): Promise<TrainResult> {
  const o = resolveTrainOptions(options, source.dIn);
  const totalSteps = stepsFor(source.rowCount, o);
  const s = seeds(o.seed, o.epochs);
  const trainer = await SaeTrainer.create(o, source.dIn, await source.sample(o.sampleRows, s.sample), totalSteps, hooks);
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    trainer.epoch = epoch;
    for await (const batch of source.batches(o.batchSize, s.epochs[epoch], hooks.signal)) {
      hooks.signal?.throwIfAborted();
      await trainer.push(batch, hooks.onProgress);
    }
  }
  await trainer.flush(hooks.onProgress);
  return { sae: trainer.toSae(hooks.metadata), history: trainer.history, normScale: trainer.normScale, options: o };
}

/** Several blocks' activations, read together: row i of every block is the same token. */
export interface MultiBlockSource {
  readonly rowCount: number;
  readonly dModel: number;
  source(block: number): ActivationSource;
  /** One shuffled epoch: each item holds one batch per block, in the order of `blocks`, for the same rows. */
  batches(blocks: number[], batchSize: number, seed: number, signal?: AbortSignal): AsyncIterable<Float32Array[]>;
}

/**
 * Trains one SAE per block in a single pass over the data: each batch is read
 * once for all blocks, which is what costs most when the store is on disk.
 */
export async function trainSaes(
  store: MultiBlockSource,
  blocks: number[],
  options: Partial<TrainOptions>,
  hooks: TrainHooks & { metadataFor?: (block: number) => SaeMetadata } = {},
): Promise<Map<number, TrainResult>> {
  const o = resolveTrainOptions(options, store.dModel);
  const totalSteps = stepsFor(store.rowCount, o);
  const s = seeds(o.seed, o.epochs);
  const trainers: SaeTrainer[] = [];
  for (const block of blocks) {
    const sample = await store.source(block).sample(o.sampleRows, s.sample);
    trainers.push(await SaeTrainer.create(o, store.dModel, sample, totalSteps, { executionProviders: hooks.executionProviders, block }));
  }
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    for (const t of trainers) t.epoch = epoch;
    for await (const group of store.batches(blocks, o.batchSize, s.epochs[epoch], hooks.signal)) {
      hooks.signal?.throwIfAborted();
      for (let i = 0; i < trainers.length; i++) await trainers[i].push(group[i], hooks.onProgress);
    }
  }
  const results = new Map<number, TrainResult>();
  for (let i = 0; i < trainers.length; i++) {
    await trainers[i].flush(hooks.onProgress);
    const metadata = hooks.metadataFor?.(blocks[i]) ?? hooks.metadata ?? {};
    results.set(blocks[i], { sae: trainers[i].toSae(metadata), history: trainers[i].history, normScale: trainers[i].normScale, options: o });
  }
  return results;
}
