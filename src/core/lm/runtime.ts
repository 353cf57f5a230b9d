import { readFileSync } from 'node:fs';
import type * as ort from 'onnxruntime-node';
import type { GraphAnalysis } from './analysis';
import { ModelError } from './errors';
import { missingTokenizerError, readModelConfig, resolveModelFiles, type ModelFiles } from './files';
import { batchOf, Runner, type Cache, type ForwardResult, type PassOptions } from './passes';
import { createSession, type ProviderChoice, type ProviderReport } from './providers';
import { defaultCacheDir, prepareModel, type PreparedModel } from './surgery';
import { LmTokenizer } from './tokenizer';

/**
 * A loaded language model: the rewritten graph on the chosen execution provider,
 * with batched forward passes over ragged token sequences, incremental passes
 * that carry the KV cache, residual-stream taps at every block, and interventions
 * that add a computed delta to any block's output (README.md beside this file
 * describes the scheme).
 */

export interface LoadOptions {
  /** 'auto' tries cuda, webgpu, cpu in that order */
  provider?: ProviderChoice;
  /** where rewritten models are cached (default: the user's cache folder); false keeps the rewrite in memory */
  cacheDir?: string | false;
  sessionOptions?: ort.InferenceSession.SessionOptions;
}

export interface ModelInfo extends GraphAnalysis {
  /** sha256 of the model file: the model's identity in saved results */
  hash: string;
  /** the KV cache's key/value heads and head size, from the graph or config.json; null without a cache */
  kvHeads: number | null;
  headDim: number | null;
}

/**
 * What to create the session from. A model with external data is loaded from its
 * bytes, with onnxruntime told which folder the data files are in: the rewritten
 * graph lives in the cache, away from them.
 */
function sessionSource(prepared: PreparedModel, options: ort.InferenceSession.SessionOptions): [string | Uint8Array, ort.InferenceSession.SessionOptions] {
  if (prepared.externalDataFolder === null) return [prepared.model, options];
  const bytes = typeof prepared.model === 'string' ? readFileSync(prepared.model) : prepared.model;
  const extra = (options.extra ?? {}) as { session?: Record<string, unknown> };
  const session = { ...extra.session, model_external_initializers_file_folder_path: prepared.externalDataFolder };
  return [bytes, { ...options, extra: { ...extra, session } }];
}

export class LanguageModel {
  private constructor(
    readonly files: ModelFiles,
    readonly info: ModelInfo,
    readonly providers: ProviderReport,
    private readonly runner: Runner,
    private readonly loadedTokenizer: LmTokenizer | null,
  ) {}

  /** Loads a model folder (model.onnx or onnx/model.onnx, tokenizer.json, config.json) or a bare .onnx file. */
  static async load(path: string, options: LoadOptions = {}): Promise<LanguageModel> {
    const files = resolveModelFiles(path);
    const prepared = prepareModel(files.model, options.cacheDir ?? defaultCacheDir());
    const kv = prepared.analysis.kvCache;
    // config.json is only consulted for what the graph leaves symbolic
    const config = kv && (kv.kvHeads === null || kv.headDim === null) ? readModelConfig(files.config) : null;
    const info: ModelInfo = {
      ...prepared.analysis,
      hash: prepared.hash,
      kvHeads: kv ? (kv.kvHeads ?? config?.kvHeads ?? null) : null,
      headDim: kv ? (kv.headDim ?? config?.headDim ?? null) : null,
    };
    if (kv && (info.kvHeads === null || info.headDim === null)) {
      throw new ModelError(
        files.model,
        'the KV cache inputs declare their head count and head size as symbolic dimensions, and there is no config.json to read them from',
        "put the model's config.json (num_key_value_heads, and head_dim or hidden_size and num_attention_heads) beside it",
      );
    }
    const tokenizer = files.tokenizer ? LmTokenizer.fromFile(files.tokenizer, files.tokenizerConfig) : null;
    if (tokenizer && tokenizer.maxTokenId >= info.vocab) {
      throw new ModelError(
        tokenizer.file,
        `the tokenizer produces token ids up to ${tokenizer.maxTokenId}, but the model's embedding has ${info.vocab} rows, so they do not belong together`,
        `put the tokenizer the model was trained with beside ${files.model}`,
      );
    }
    const { session, report } = await createSession(...sessionSource(prepared, options.sessionOptions ?? {}), options.provider ?? 'auto');
    return new LanguageModel(files, info, report, new Runner(session, info, files.model), tokenizer);
  }

  get hasKvCache(): boolean {
    return this.info.kvCache !== null;
  }

  get tokenizer(): LmTokenizer | null {
    return this.loadedTokenizer;
  }

  /** The tokenizer, or an error naming the folder and how to add one. */
  requireTokenizer(): LmTokenizer {
    if (!this.loadedTokenizer) throw missingTokenizerError(this.files);
    return this.loadedTokenizer;
  }

  /** One batched pass over whole sequences, which may differ in length (padded on the right and masked). */
  async forward(sequences: readonly (readonly number[])[], options: PassOptions = {}): Promise<ForwardResult> {
    if (sequences.length === 0 || sequences.some((s) => s.length === 0)) throw new RangeError('forward needs at least one sequence, each with at least one token');
    return this.forwardPadded(sequences, options);
  }

  /** As forward, but sequences may be empty (they come back with no rows and empty logits). */
  private async forwardPadded(sequences: readonly (readonly number[])[], options: PassOptions): Promise<ForwardResult> {
    this.runner.checkIds(sequences);
    this.runner.checkRagged(sequences.map((s) => s.length));
    const { output } = await this.runner.pass(batchOf(sequences, sequences.map(() => 0)), null, options);
    return output;
  }

  /** Sequences that grow by appending tokens, with the KV cache carried between appends where the model has one. */
  startSequences(count: number): SequenceBatch {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`sequence count must be a positive integer, got ${count}`);
    return new SequenceBatch(this.runner, count, (sequences, options) => this.forwardPadded(sequences, options));
  }

  async dispose(): Promise<void> {
    await this.runner.release();
  }
}

/**
 * A batch of sequences that grow by appends, e.g. the transcripts of parallel
 * experiments. With a KV cache each append costs time for its new tokens only,
 * so a whole game is linear in its length; sequences may append different
 * numbers of tokens (the shorter ones are padded, and the padding stays masked in
 * the cache). A model without a cache recomputes each sequence from its start on
 * every append, with the same results.
 */
export class SequenceBatch {
  /** tokens so far in each sequence */
  readonly lengths: number[];
  private cache: Cache | null;
  private readonly history: number[][];
  private readonly lastLogits: Float32Array[];

  constructor(
    private readonly runner: Runner,
    readonly size: number,
    private readonly recompute: (sequences: number[][], options: PassOptions) => Promise<ForwardResult>,
  ) {
    this.lengths = new Array<number>(size).fill(0);
    this.cache = runner.model.kvCache ? runner.emptyCache(size) : null;
    this.history = Array.from({ length: size }, () => []);
    this.lastLogits = Array.from({ length: size }, () => new Float32Array(0));
  }

  /** Whether appends reuse the KV cache (time linear in the new tokens) or recompute whole sequences. */
  get incremental(): boolean {
    return this.cache !== null;
  }

  /**
   * Appends `ids[b]` (possibly none) to sequence b and returns the logits and taps
   * of the appended positions. `logits[b]` is the next-token distribution after
   * sequence b's last token, carried over when it appended nothing.
   */
  async append(ids: readonly (readonly number[])[], options: PassOptions = {}): Promise<ForwardResult> {
    if (ids.length !== this.size) throw new RangeError(`append needs one id list per sequence (${this.size}), got ${ids.length}`);
    const appended = ids.map((s) => s.length);
    if (appended.every((l) => l === 0)) throw new RangeError('append needs at least one token in some sequence');
    const start = [...this.lengths];
    let output: ForwardResult;
    if (this.cache) {
      this.runner.checkIds(ids);
      this.runner.checkAppend(appended);
      const result = await this.runner.pass(batchOf(ids, start), this.cache, options);
      this.cache = result.cache;
      output = result.output;
    } else {
      ids.forEach((s, b) => this.history[b].push(...s));
      output = this.newRows(await this.recompute(this.history, options), start, options.allPositions === true);
    }
    ids.forEach((s, b) => (this.lengths[b] += s.length));
    output.logits = output.logits.map((l, b) => {
      if (appended[b] === 0) return this.lastLogits[b];
      this.lastLogits[b] = options.allPositions ? l.slice(l.length - output.vocab) : l;
      return l;
    });
    return output;
  }

  /** Keeps the rows of a full recomputation that belong to the appended tokens. */
  private newRows(full: ForwardResult, start: number[], allPositions: boolean): ForwardResult {
    return {
      ...full,
      lengths: full.lengths.map((len, b) => len - start[b]),
      start,
      logits: allPositions ? full.logits.map((l, b) => l.slice(start[b] * full.vocab)) : full.logits,
      taps: new Map([...full.taps].map(([block, rows]) => [block, rows.map((r, b) => r.subarray(start[b] * full.dModel))])),
    };
  }
}

export function loadModel(path: string, options?: LoadOptions): Promise<LanguageModel> {
  return LanguageModel.load(path, options);
}
