import type { RawTensor } from './safetensors';

/** Storage precision of an SAE's weights, spelled as SAELens spells it in cfg.json. */
export type SaeDtype = 'float32' | 'float16' | 'bfloat16';

/**
 * Where an SAE was trained, in SAELens' metadata keys (model_name, hook_name,
 * hook_layer, context_size, prepend_bos, dataset_path, sae_lens_version, ...).
 */
export type SaeMetadata = Record<string, unknown> & {
  model_name?: string;
  hook_name?: string;
  hook_layer?: number;
};

/**
 * A sparse autoencoder in memory, in SAELens' layout: W_enc [d_in, d_sae],
 * b_enc [d_sae], W_dec [d_sae, d_in], b_dec [d_in] (plus `threshold` and the
 * like for other architectures), row-major float32.
 */
export interface Sae {
  /** The SAELens architecture string, a key of the registry. */
  architecture: string;
  dIn: number;
  dSae: number;
  /** The architecture's own settings, e.g. {k} for topk. */
  config: Record<string, unknown>;
  /** Whether the encoder sees x - b_dec rather than x. */
  applyBDecToInput: boolean;
  /** SAELens' normalize_activations; only 'none' can be run here (ours fold the scale into the weights). */
  normalizeActivations: string;
  /** Precision the weights are stored in. */
  dtype: SaeDtype;
  params: Record<string, Float32Array>;
  metadata: SaeMetadata;
  /** Other cfg.json keys, kept so a folder written elsewhere is written back unchanged. */
  extraConfig: Record<string, unknown>;
  /** Tensors the architecture does not use, kept as stored for the same reason. */
  extraTensors: Map<string, RawTensor>;
  /** The weights file's own __metadata__. */
  weightsMetadata: Record<string, string>;
}
