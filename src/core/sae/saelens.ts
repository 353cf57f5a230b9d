import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../config';
import { ARCHITECTURES, architecture } from './architectures';
import type { Sae, SaeDtype, SaeMetadata } from './sae';
import { deserialize, fromFloat32, serialize, toFloat32, type RawTensor } from './safetensors';

/**
 * SAELens folders: cfg.json and sae_weights.safetensors. We read what SAELens 3
 * to 6 write (metadata flat at the top level, or under "metadata"/"meta"; topk's
 * k at the top level or in activation_fn_kwargs) and write both spellings, so
 * SAELens of any version loads ours.
 */

export const CFG_FILE = 'cfg.json';
export const WEIGHTS_FILE = 'sae_weights.safetensors';

/** Keys SAELens kept at the top level before version 6 and under "metadata" since. */
const METADATA_KEYS = ['model_name', 'hook_name', 'hook_layer', 'hook_head_index', 'context_size', 'prepend_bos', 'dataset_path'];

/**
 * Every key SAELens' metadata type has. SAELens builds that type from the dict,
 * so any other key there would stop it loading the folder: the rest of what we
 * record goes to top-level keys, which SAELens ignores.
 */
const SAELENS_METADATA_KEYS = [
  ...METADATA_KEYS,
  'model_class_name',
  'model_from_pretrained_kwargs',
  'exclude_special_tokens',
  'neuronpedia_id',
  'seqpos_slice',
  'sae_lens_version',
  'sae_lens_training_version',
];

/** Keys this module reads into typed fields (so they are not kept as "extra"). */
const CORE_KEYS = ['architecture', 'd_in', 'd_sae', 'dtype', 'device', 'apply_b_dec_to_input', 'normalize_activations', 'metadata', 'meta', ...SAELENS_METADATA_KEYS];

const DTYPES: Record<string, SaeDtype> = {
  float32: 'float32',
  'torch.float32': 'float32',
  float16: 'float16',
  'torch.float16': 'float16',
  bfloat16: 'bfloat16',
  'torch.bfloat16': 'bfloat16',
};
const STORED: Record<SaeDtype, 'F32' | 'F16' | 'BF16'> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' };

export class SaeFormatError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'SaeFormatError';
  }
}

function requireInteger(cfg: Record<string, unknown>, key: string, file: string): number {
  if (!(key in cfg)) throw new SaeFormatError(file, `missing key "${key}"`);
  const v = cfg[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new SaeFormatError(file, `"${key}" = ${JSON.stringify(v)} is not a positive integer`);
  return v;
}

/** Builds an {@link Sae} from a parsed cfg.json and the tensors of its weights file. */
export function saeFromParts(
  cfgValue: unknown,
  weights: { tensors: Map<string, RawTensor>; metadata: Record<string, string> },
  where = '.',
): Sae {
  const cfgFile = join(where, CFG_FILE);
  const weightsFile = join(where, WEIGHTS_FILE);
  if (typeof cfgValue !== 'object' || cfgValue === null || Array.isArray(cfgValue)) throw new SaeFormatError(cfgFile, 'is not a JSON object');
  const cfg = cfgValue as Record<string, unknown>;
  const dIn = requireInteger(cfg, 'd_in', cfgFile);
  const dSae = requireInteger(cfg, 'd_sae', cfgFile);
  // SAELens configs from before architectures existed are standard SAEs.
  const archName = cfg.architecture ?? 'standard';
  const arch = typeof archName === 'string' ? architecture(archName) : undefined;
  if (!arch) {
    throw new SaeFormatError(cfgFile, `unknown architecture ${JSON.stringify(archName)} (known: ${Object.keys(ARCHITECTURES).join(', ')})`);
  }
  let config: Record<string, unknown>;
  try {
    config = arch.readConfig(cfg, dSae) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof ConfigError) throw new SaeFormatError(cfgFile, e.message);
    throw e;
  }
  const archKeys = Object.keys(arch.writeConfig(config));

  const params: Record<string, Float32Array> = {};
  const storedTypes = new Set<string>();
  for (const spec of arch.params) {
    const t = weights.tensors.get(spec.name);
    if (!t) throw new SaeFormatError(weightsFile, `missing tensor "${spec.name}" (a ${arch.name} SAE needs ${arch.params.map((p) => p.name).join(', ')})`);
    const expected = spec.shape(dIn, dSae);
    if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i])) {
      throw new SaeFormatError(weightsFile, `tensor "${spec.name}" has shape [${t.shape.join(', ')}], expected [${expected.join(', ')}] for d_in ${dIn}, d_sae ${dSae}`);
    }
    if (!['F32', 'F16', 'BF16', 'F64'].includes(t.dtype)) throw new SaeFormatError(weightsFile, `tensor "${spec.name}" has dtype ${t.dtype}, not a float type`);
    params[spec.name] = toFloat32(t);
    storedTypes.add(t.dtype);
  }
  const extraTensors = new Map([...weights.tensors].filter(([name]) => !arch.params.some((p) => p.name === name)));

  const storedDtype = storedTypes.size === 1 ? [...storedTypes][0] : undefined;
  const fromWeights = (Object.keys(STORED) as SaeDtype[]).find((d) => STORED[d] === storedDtype);
  const dtype = fromWeights ?? DTYPES[String(cfg.dtype)] ?? 'float32';

  const nested = (cfg.metadata ?? cfg.meta ?? {}) as Record<string, unknown>;
  const metadata: SaeMetadata = {};
  for (const key of SAELENS_METADATA_KEYS) {
    const value = nested[key] ?? cfg[key];
    if (value !== undefined && value !== null) metadata[key] = value;
  }

  const extraConfig = Object.fromEntries(Object.entries(cfg).filter(([k]) => !CORE_KEYS.includes(k) && !archKeys.includes(k)));
  return {
    architecture: arch.name,
    dIn,
    dSae,
    config,
    applyBDecToInput: cfg.apply_b_dec_to_input === undefined ? true : cfg.apply_b_dec_to_input === true,
    normalizeActivations: typeof cfg.normalize_activations === 'string' ? cfg.normalize_activations : 'none',
    dtype,
    params,
    metadata,
    extraConfig,
    extraTensors,
    weightsMetadata: weights.metadata,
  };
}

/** The cfg.json object and weights bytes of an SAE. */
export function saeToParts(sae: Sae): { cfg: Record<string, unknown>; weights: Uint8Array } {
  const arch = architecture(sae.architecture);
  if (!arch) throw new Error(`unknown architecture ${sae.architecture}`);
  const flat = Object.fromEntries(METADATA_KEYS.filter((k) => sae.metadata[k] !== undefined).map((k) => [k, sae.metadata[k]]));
  const cfg: Record<string, unknown> = {
    architecture: arch.name,
    d_in: sae.dIn,
    d_sae: sae.dSae,
    dtype: sae.dtype,
    device: 'cpu',
    apply_b_dec_to_input: sae.applyBDecToInput,
    normalize_activations: sae.normalizeActivations,
    ...arch.writeConfig(sae.config),
    ...flat,
    metadata: Object.fromEntries(Object.entries(sae.metadata).filter(([k]) => SAELENS_METADATA_KEYS.includes(k))),
    ...sae.extraConfig,
  };
  const tensors = new Map<string, RawTensor>(sae.extraTensors);
  for (const spec of arch.params) {
    const values = sae.params[spec.name];
    if (!values) throw new Error(`SAE has no parameter ${spec.name}`);
    tensors.set(spec.name, fromFloat32(values, spec.shape(sae.dIn, sae.dSae), STORED[sae.dtype]));
  }
  return { cfg, weights: serialize(tensors, sae.weightsMetadata) };
}

export async function loadSae(dir: string): Promise<Sae> {
  const cfgPath = join(dir, CFG_FILE);
  let cfgText: string;
  try {
    cfgText = await readFile(cfgPath, 'utf8');
  } catch {
    throw new SaeFormatError(cfgPath, 'not found: a SAELens folder holds cfg.json and sae_weights.safetensors');
  }
  let cfg: unknown;
  try {
    cfg = JSON.parse(cfgText);
  } catch (e) {
    throw new SaeFormatError(cfgPath, `is not valid JSON: ${(e as Error).message}`);
  }
  const weightsPath = join(dir, WEIGHTS_FILE);
  let bytes: Buffer;
  try {
    bytes = await readFile(weightsPath);
  } catch {
    throw new SaeFormatError(weightsPath, 'not found');
  }
  let weights: ReturnType<typeof deserialize>;
  try {
    weights = deserialize(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    throw new SaeFormatError(weightsPath, (e as Error).message);
  }
  return saeFromParts(cfg, weights, dir);
}

export async function saveSae(dir: string, sae: Sae): Promise<void> {
  const { cfg, weights } = saeToParts(sae);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, WEIGHTS_FILE), weights);
  await writeFile(join(dir, CFG_FILE), `${JSON.stringify(cfg, null, 2)}\n`);
}
