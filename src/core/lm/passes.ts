import * as ort from 'onnxruntime-node';
import type { GraphAnalysis } from './analysis';
import { ModelError } from './errors';
import { deltaInput, tapOutput } from './surgery';

/**
 * Forward passes on a rewritten model's session: feeding ragged batches (padded
 * on the right, masked), the KV cache, and the delta inputs; reading logits,
 * taps and the next cache; and running interventions as a sequence of passes.
 * LanguageModel and SequenceBatch (runtime.ts) are the public face of this.
 */

/** The residual stream at one block for the rows of one pass, given to a delta function. */
export interface BlockResidual {
  block: number;
  batch: number;
  /** rows per sequence in `data` (the longest sequence of the pass) */
  positions: number;
  dModel: number;
  /** valid rows per sequence; rows at or beyond it are padding */
  lengths: readonly number[];
  /** absolute position (tokens before it in the sequence) of each sequence's first row */
  start: readonly number[];
  /** per sequence, the absolute positions the caller marked ({@link PassOptions.marks}); none when it marked none */
  marks: readonly (readonly number[])[];
  /** [batch, positions, dModel] */
  data: Float32Array;
}

/** Returns the delta to add to the block's output ([batch, positions, dModel], padding rows ignored), or null for none. */
export type DeltaFn = (residual: BlockResidual) => Float32Array | null | Promise<Float32Array | null>;

/** Delta functions by block index. */
export type Interventions = ReadonlyMap<number, DeltaFn> | Readonly<Record<number, DeltaFn>>;

export interface PassOptions {
  /** blocks whose residual stream to return; none unless asked */
  taps?: readonly number[] | 'all';
  /** logits at every valid position instead of only the last */
  allPositions?: boolean;
  interventions?: Interventions;
  /**
   * per sequence, absolute positions the delta functions are told of, e.g. the
   * tokens where a player reads a reward; an intervention may edit only those
   */
  marks?: readonly (readonly number[])[];
  /** checked before every onnxruntime run (a run itself cannot be interrupted) */
  signal?: AbortSignal;
}

export interface ForwardResult {
  /** rows returned per sequence (its valid tokens in this pass) */
  lengths: number[];
  /** absolute position of each sequence's first returned row */
  start: number[];
  vocab: number;
  dModel: number;
  /** per sequence: [vocab] at its last valid position, or [lengths[b], vocab] with allPositions */
  logits: Float32Array[];
  /** per tapped block, per sequence: [lengths[b], dModel] */
  taps: Map<number, Float32Array[]>;
}

/** What a pass needs to know about the model beyond the graph analysis. */
export interface RunnerModel extends GraphAnalysis {
  kvHeads: number | null;
  headDim: number | null;
}

export interface Batch {
  size: number;
  width: number;
  lengths: number[];
  start: number[];
  /** [size, width], padded with token 0 */
  ids: number[];
}

export interface Cache {
  tensors: Record<string, ort.Tensor>;
  /** [size, total]: which cached positions hold tokens (the rest are padding holes) */
  mask: Uint8Array;
  total: number;
}

interface Fetch {
  logits: boolean;
  taps: number[];
  presents: boolean;
}

export function batchOf(sequences: readonly (readonly number[])[], start: number[]): Batch {
  const lengths = sequences.map((s) => s.length);
  const width = Math.max(1, ...lengths);
  const ids = new Array<number>(sequences.length * width).fill(0);
  sequences.forEach((s, b) => s.forEach((id, j) => (ids[b * width + j] = id)));
  return { size: sequences.length, width, lengths, start, ids };
}

function interventionList(interventions: Interventions | undefined): [number, DeltaFn][] {
  if (!interventions) return [];
  const entries: [number, DeltaFn][] =
    interventions instanceof Map ? [...interventions.entries()] : Object.entries(interventions).map(([k, f]) => [Number(k), f as DeltaFn]);
  return entries.sort((a, b) => a[0] - b[0]);
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

function floatData(tensor: ort.Tensor): Float32Array {
  if (tensor.type === 'float32') return tensor.data as Float32Array;
  if (tensor.type === 'float16') return Float32Array.from(tensor.data as Uint16Array, halfToFloat);
  throw new TypeError(`expected a float tensor, got ${tensor.type}`);
}

/** `rows` rows of sequence b, from row `from`, out of a [batch, width, cols] buffer. */
function rowsOf(data: Float32Array, b: number, width: number, cols: number, from: number, rows: number): Float32Array {
  const offset = (b * width + from) * cols;
  return data.slice(offset, offset + rows * cols);
}

export class Runner {
  private readonly zeroDelta: ort.Tensor;
  private readonly inputTypes: Map<string, string>;

  constructor(
    private readonly session: ort.InferenceSession,
    readonly model: RunnerModel,
    /** the model file, named in errors */
    private readonly file: string,
  ) {
    this.zeroDelta = new ort.Tensor('float32', new Float32Array(model.dModel), [1, 1, model.dModel]);
    this.inputTypes = new Map(
      session.inputMetadata.filter((m): m is ort.InferenceSession.TensorValueMetadata => m.isTensor).map((m) => [m.name, m.type]),
    );
  }

  /** Sequences of different lengths share a batch only where the graph masks the padding. */
  checkRagged(lengths: readonly number[]): void {
    if (lengths.some((l) => l !== lengths[0]) && this.model.inputs.attentionMask === null) {
      throw new ModelError(
        this.file,
        'the model has no attention_mask input, so sequences of different lengths cannot share a batch',
        'run the sequences one at a time, or export the model with an attention_mask input',
      );
    }
  }

  /**
   * Appends of different lengths leave padding holes in the cache; they stay
   * masked, but a graph that counts positions itself (no position_ids input)
   * would shift every later position by them.
   */
  checkAppend(appended: readonly number[]): void {
    this.checkRagged(appended);
    if (appended.some((l) => l !== appended[0]) && this.model.inputs.positionIds === null) {
      throw new ModelError(
        this.file,
        'the model computes positions itself (no position_ids input), so sequences that append different numbers of tokens cannot share a KV cache: the padding would shift later positions',
        'append the same number of tokens to every sequence, run sequences one at a time, or export the model with a position_ids input (Optimum does)',
      );
    }
  }

  /** Token ids index the embedding; onnxruntime's own out-of-range error would not say which sequence. */
  checkIds(sequences: readonly (readonly number[])[]): void {
    sequences.forEach((ids, b) => {
      const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= this.model.vocab);
      if (bad !== undefined) throw new RangeError(`sequence ${b} has token id ${bad}, outside the model's vocabulary [0, ${this.model.vocab})`);
    });
  }

  checkBlock(block: number): void {
    if (!Number.isInteger(block) || block < 0 || block >= this.model.blocks.length) {
      throw new RangeError(`block ${block} does not exist: the model has blocks 0 to ${this.model.blocks.length - 1}`);
    }
  }

  /** The cache before any token: no positions, every layer's keys and values empty. */
  emptyCache(size: number): Cache {
    const kv = this.model.kvCache!;
    const shape = [size, this.model.kvHeads!, 0, this.model.headDim!];
    const tensors: Record<string, ort.Tensor> = {};
    for (const { key, value } of kv.past) {
      for (const name of [key, value]) {
        tensors[name] = kv.elemType === 'float16' ? new ort.Tensor('float16', new Uint16Array(0), shape) : new ort.Tensor('float32', new Float32Array(0), shape);
      }
    }
    return { tensors, mask: new Uint8Array(0), total: 0 };
  }

  /**
   * One pass with interventions. The blocks' delta functions run in block order,
   * each on the residual stream its block produces given the deltas of the blocks
   * before it (one reading pass each); a final pass applies all the deltas and
   * returns logits, taps and the next cache.
   */
  async pass(batch: Batch, cache: Cache | null, options: PassOptions): Promise<{ output: ForwardResult; cache: Cache | null }> {
    const d = this.model.dModel;
    const deltas = new Map<number, Float32Array>();
    if (options.marks && options.marks.length !== batch.size) throw new RangeError(`marks needs one position list per sequence (${batch.size}), got ${options.marks.length}`);
    for (const [block, fn] of interventionList(options.interventions)) {
      this.checkBlock(block);
      options.signal?.throwIfAborted();
      const read = await this.run(batch, cache, deltas, { logits: false, taps: [block], presents: false });
      const residual: BlockResidual = {
        block,
        batch: batch.size,
        positions: batch.width,
        dModel: d,
        lengths: batch.lengths,
        start: batch.start,
        marks: options.marks ?? batch.lengths.map(() => []),
        data: floatData(read[tapOutput(block)]),
      };
      const delta = await fn(residual);
      if (delta === null) continue;
      if (!(delta instanceof Float32Array) || delta.length !== residual.data.length) {
        const got = delta instanceof Float32Array ? `${delta.length} values` : typeof delta;
        throw new RangeError(`the delta for block ${block} must be a Float32Array of ${residual.data.length} values ([${batch.size}, ${batch.width}, ${d}]), got ${got}`);
      }
      deltas.set(block, delta);
    }
    const taps = options.taps === 'all' ? this.model.blocks.map((b) => b.index) : [...(options.taps ?? [])];
    taps.forEach((b) => this.checkBlock(b));
    options.signal?.throwIfAborted();
    const out = await this.run(batch, cache, deltas, { logits: true, taps, presents: cache !== null });
    const logits = floatData(out[this.model.logits]);
    const vocab = logits.length / (batch.size * batch.width);
    const lastOrAll = (len: number, b: number) =>
      options.allPositions ? rowsOf(logits, b, batch.width, vocab, 0, len) : len > 0 ? rowsOf(logits, b, batch.width, vocab, len - 1, 1) : new Float32Array(0);
    const output: ForwardResult = {
      lengths: batch.lengths,
      start: batch.start,
      vocab,
      dModel: d,
      logits: batch.lengths.map(lastOrAll),
      taps: new Map(
        taps.map((block) => {
          const data = floatData(out[tapOutput(block)]);
          // Views into the output, not copies: copying every tap cost a few percent of a pass at small d_model.
          return [block, batch.lengths.map((len, b) => data.subarray(b * batch.width * d, (b * batch.width + len) * d))];
        }),
      ),
    };
    return { output, cache: cache && this.nextCache(batch, cache, out) };
  }

  private maskAfter(batch: Batch, cache: Cache | null): { mask: Uint8Array; total: number } {
    const before = cache?.total ?? 0;
    const total = before + batch.width;
    const mask = new Uint8Array(batch.size * total);
    for (let b = 0; b < batch.size; b++) {
      if (cache) mask.set(cache.mask.subarray(b * before, (b + 1) * before), b * total);
      mask.fill(1, b * total + before, b * total + before + batch.lengths[b]);
    }
    return { mask, total };
  }

  private nextCache(batch: Batch, cache: Cache, out: ort.InferenceSession.ReturnType): Cache {
    const kv = this.model.kvCache!;
    const tensors: Record<string, ort.Tensor> = {};
    kv.past.forEach((names, i) => {
      tensors[names.key] = out[kv.present[i].key];
      tensors[names.value] = out[kv.present[i].value];
    });
    return { tensors, ...this.maskAfter(batch, cache) };
  }

  private intTensor(name: string, values: ArrayLike<number>, dims: number[]): ort.Tensor {
    return this.inputTypes.get(name) === 'int32'
      ? new ort.Tensor('int32', Int32Array.from(values), dims)
      : new ort.Tensor('int64', BigInt64Array.from(Array.from(values, (v) => BigInt(v))), dims);
  }

  private async run(batch: Batch, cache: Cache | null, deltas: Map<number, Float32Array>, fetch: Fetch): Promise<ort.InferenceSession.ReturnType> {
    const { inputs, blocks, dModel, kvCache } = this.model;
    const feeds: Record<string, ort.Tensor> = { [inputs.ids]: this.intTensor(inputs.ids, batch.ids, [batch.size, batch.width]) };
    if (inputs.attentionMask) {
      const { mask, total } = this.maskAfter(batch, cache);
      feeds[inputs.attentionMask] = this.intTensor(inputs.attentionMask, mask, [batch.size, total]);
    }
    if (inputs.positionIds) {
      // padding rows repeat the last valid position, so they never index past the position table
      const positions = batch.ids.map((_, k) => {
        const b = Math.floor(k / batch.width);
        return batch.start[b] + Math.min(k % batch.width, Math.max(0, batch.lengths[b] - 1));
      });
      feeds[inputs.positionIds] = this.intTensor(inputs.positionIds, positions, [batch.size, batch.width]);
    }
    if (kvCache) Object.assign(feeds, (cache ?? this.emptyCache(batch.size)).tensors);
    for (const block of blocks) {
      const delta = deltas.get(block.index);
      feeds[deltaInput(block.index)] = delta ? new ort.Tensor('float32', delta, [batch.size, batch.width, dModel]) : this.zeroDelta;
    }
    const names = [
      ...(fetch.logits ? [this.model.logits] : []),
      ...fetch.taps.map(tapOutput),
      ...(fetch.presents && kvCache ? kvCache.present.flatMap((p) => [p.key, p.value]) : []),
    ];
    return this.session.run(feeds, names);
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
