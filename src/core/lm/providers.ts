import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';

/**
 * Execution-provider choice: CUDA where the user installed onnxruntime-node's CUDA
 * provider, WebGPU (Dawn over Vulkan/D3D12/Metal) where there is a GPU without
 * it, the CPU everywhere. A provider that cannot create the session is not an
 * error in automatic mode: its reason is recorded and the next one is tried.
 */

export const PROVIDERS = ['cuda', 'webgpu', 'cpu'] as const;
export type ProviderName = (typeof PROVIDERS)[number];
export type ProviderChoice = ProviderName | 'auto';

export interface ProviderAttempt {
  provider: ProviderName;
  ok: boolean;
  reason: string;
}

export interface ProviderReport {
  /** the provider the session runs on */
  provider: ProviderName;
  /** every provider tried, in order, with why it was or was not used */
  attempts: ProviderAttempt[];
}

const CUDA_INSTALL = 'install it with ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node; it needs CUDA 12 and cuDNN 9';

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0].trim();
}

/** Turns onnxruntime's session-creation failure into a sentence a user can act on. */
function explainFailure(provider: ProviderName, err: unknown): string {
  const raw = firstLine(err);
  if (provider === 'cuda' && /load|shared library|providers_cuda|cudart|cublas|cudnn/i.test(raw)) {
    return `the CUDA provider could not load (${CUDA_INSTALL}) [${raw}]`;
  }
  if (provider === 'webgpu' && /adapter/i.test(raw)) {
    return `no WebGPU adapter: Dawn found no usable GPU (Vulkan, D3D12 or Metal) [${/Failed to get a WebGPU adapter.*/.exec(raw)?.[0] ?? raw}]`;
  }
  return raw;
}

function availableBackends(): Set<string> {
  return new Set(ort.listSupportedBackends().map((b) => b.name));
}

/**
 * Whether onnxruntime-node's separately downloaded CUDA provider library is
 * present. Checked before trying, because a failed load prints a native error
 * line that no session option silences.
 */
function cudaProviderInstalled(): boolean {
  try {
    const binaries = join(dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch);
    return readdirSync(binaries).some((f) => f.includes('providers_cuda'));
  } catch {
    return true; // unknown layout: let onnxruntime decide
  }
}

/**
 * Creates an inference session on the chosen provider, or on the first of cuda,
 * webgpu, cpu that works. A forced provider that fails throws with its reason.
 */
export async function createSession(
  model: string | Uint8Array,
  options: ort.InferenceSession.SessionOptions = {},
  choice: ProviderChoice = 'auto',
): Promise<{ session: ort.InferenceSession; report: ProviderReport }> {
  const order: readonly ProviderName[] = choice === 'auto' ? PROVIDERS : [choice];
  const supported = availableBackends();
  const attempts: ProviderAttempt[] = [];
  for (const provider of order) {
    if (!supported.has(provider)) {
      attempts.push({ provider, ok: false, reason: `onnxruntime-node has no ${provider} provider on ${process.platform}-${process.arch}` });
      continue;
    }
    if (provider === 'cuda' && !cudaProviderInstalled()) {
      attempts.push({ provider, ok: false, reason: `the CUDA provider is not installed (onnxruntime-node ships it separately: ${CUDA_INSTALL})` });
      continue;
    }
    try {
      const session = await createOn(model, provider, options);
      attempts.push({ provider, ok: true, reason: choice === 'auto' ? 'the first provider that created the session' : 'forced by the provider setting' });
      return { session, report: { provider, attempts } };
    } catch (err) {
      attempts.push({ provider, ok: false, reason: explainFailure(provider, err) });
    }
  }
  const failed = attempts.map((a) => `${a.provider}: ${a.reason}`).join('; ');
  throw new Error(
    choice === 'auto'
      ? `no execution provider could run the model (${failed})`
      : `the forced provider '${choice}' could not run the model (${failed}); choose another provider or 'auto'`,
  );
}

function createOn(model: string | Uint8Array, provider: ProviderName, options: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  const sessionOptions = { ...options, executionProviders: [provider] };
  return typeof model === 'string' ? ort.InferenceSession.create(model, sessionOptions) : ort.InferenceSession.create(model, sessionOptions);
}

/** One line per attempt: "cuda: not used: <reason>", ..., "cpu: used (<reason>)". */
export function describeProviders(report: ProviderReport): string[] {
  return report.attempts.map((a) => `${a.provider}: ${a.ok ? `used (${a.reason})` : `not used: ${a.reason}`}`);
}
