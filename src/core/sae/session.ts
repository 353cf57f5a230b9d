import * as ort from 'onnxruntime-node';
import { DataType, encodeModel, GraphBuilder, modelProto } from '../onnx/builder';
import { architecture } from './architectures';
import { Ops } from './graph';
import type { Sae } from './sae';

/**
 * An SAE compiled to ONNX Runtime sessions for inference: encode, decode,
 * reconstruct, and the per-row quantities evaluation needs. The weights are
 * baked into each model as initializers, so a call moves only activations.
 */

type Kind = 'encode' | 'decode' | 'reconstruct' | 'evaluate';

function paramNames(b: GraphBuilder, sae: Sae): Record<string, string> {
  const arch = architecture(sae.architecture)!;
  return Object.fromEntries(arch.params.map((p) => [p.name, b.initializer(p.name, sae.params[p.name], p.shape(sae.dIn, sae.dSae))]));
}

/** Encoder output [rows, d_sae] from input x [rows, d_in], in the given builder. */
function encodeFragment(ops: Ops, sae: Sae, x: string, params: Record<string, string>): string {
  const arch = architecture(sae.architecture)!;
  const input = sae.applyBDecToInput ? ops.sub(x, params.b_dec) : x;
  return arch.encode({ ops, input, params }, sae.config).acts;
}

export function buildInferenceModel(sae: Sae, kind: Kind) {
  const b = new GraphBuilder();
  const ops = new Ops(b, 'float32');
  const params = paramNames(b, sae);
  const F = DataType.FLOAT;
  if (kind === 'decode') {
    const acts = b.input('acts', F, ['rows', sae.dSae]);
    b.output(b.op('Gemm', [acts, params.W_dec, params.b_dec], {}, 'recon'), F, ['rows', sae.dIn]);
    return modelProto(b.toGraph('sae_decode'));
  }
  const x = b.input('x', F, ['rows', sae.dIn]);
  const acts = encodeFragment(ops, sae, x, params);
  if (kind === 'encode') {
    b.output(ops.identity(acts, 'acts'), F, ['rows', sae.dSae]);
    return modelProto(b.toGraph('sae_encode'));
  }
  const recon = ops.gemm(acts, params.W_dec, { bias: params.b_dec });
  if (kind === 'reconstruct') {
    b.output(ops.identity(recon, 'recon'), F, ['rows', sae.dIn]);
    return modelProto(b.toGraph('sae_reconstruct'));
  }
  const err = ops.sub(recon, x);
  b.output(ops.identity(ops.sum(ops.mul(err, err), 1), 'sq_err'), F, ['rows']);
  const active = ops.positive(acts);
  b.output(ops.identity(ops.sum(active, 1), 'l0'), F, ['rows']);
  b.output(ops.identity(ops.sum(active, 0), 'fired'), F, [sae.dSae]);
  return modelProto(b.toGraph('sae_evaluate'));
}

export interface SaeSessionOptions {
  /** Execution providers in order of preference. Default ['cpu']. */
  executionProviders?: string[];
}

export class SaeSession {
  private readonly sessions = new Map<Kind, Promise<ort.InferenceSession>>();

  private constructor(
    readonly sae: Sae,
    private readonly options: SaeSessionOptions,
  ) {}

  static create(sae: Sae, options: SaeSessionOptions = {}): SaeSession {
    const arch = architecture(sae.architecture);
    if (!arch) throw new Error(`unknown architecture ${sae.architecture}`);
    if (sae.normalizeActivations !== 'none') {
      throw new Error(`normalize_activations = "${sae.normalizeActivations}" cannot be run here: fold the scaling factor into the weights (SAELens: fold_activation_norm_scaling_factor) and set it to "none"`);
    }
    for (const p of arch.params) if (!sae.params[p.name]) throw new Error(`SAE has no parameter ${p.name}`);
    return new SaeSession(sae, options);
  }

  private session(kind: Kind): Promise<ort.InferenceSession> {
    let s = this.sessions.get(kind);
    if (!s) {
      s = ort.InferenceSession.create(encodeModel(buildInferenceModel(this.sae, kind)), {
        executionProviders: this.options.executionProviders ?? ['cpu'],
        graphOptimizationLevel: 'all',
        // Inference graphs keep every parameter as an initializer; onnxruntime's notes about the unused ones are noise.
        logSeverityLevel: 3,
      });
      this.sessions.set(kind, s);
    }
    return s;
  }

  private rows(data: Float32Array, width: number, what: string): number {
    if (data.length % width !== 0) throw new RangeError(`${what}: ${data.length} values are not whole rows of ${width}`);
    return data.length / width;
  }

  /** Latent activations [rows, d_sae] of inputs [rows, d_in]. */
  async encode(x: Float32Array): Promise<Float32Array> {
    const rows = this.rows(x, this.sae.dIn, 'x');
    const out = await (await this.session('encode')).run({ x: new ort.Tensor('float32', x, [rows, this.sae.dIn]) });
    return out.acts.data as Float32Array;
  }

  /** Reconstructions [rows, d_in] of latent activations [rows, d_sae]. */
  async decode(acts: Float32Array): Promise<Float32Array> {
    const rows = this.rows(acts, this.sae.dSae, 'acts');
    const out = await (await this.session('decode')).run({ acts: new ort.Tensor('float32', acts, [rows, this.sae.dSae]) });
    return out.recon.data as Float32Array;
  }

  /** Reconstructions [rows, d_in] of inputs [rows, d_in]: decode(encode(x)) in one call. */
  async reconstruct(x: Float32Array): Promise<Float32Array> {
    const rows = this.rows(x, this.sae.dIn, 'x');
    const out = await (await this.session('reconstruct')).run({ x: new ort.Tensor('float32', x, [rows, this.sae.dIn]) });
    return out.recon.data as Float32Array;
  }

  /** Per row: squared reconstruction error and number of active latents; per latent: rows it fired on. */
  async evaluate(x: Float32Array): Promise<{ sqErr: Float32Array; l0: Float32Array; fired: Float32Array }> {
    const rows = this.rows(x, this.sae.dIn, 'x');
    const out = await (await this.session('evaluate')).run({ x: new ort.Tensor('float32', x, [rows, this.sae.dIn]) });
    return { sqErr: out.sq_err.data as Float32Array, l0: out.l0.data as Float32Array, fired: out.fired.data as Float32Array };
  }

  async release(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
  }
}
