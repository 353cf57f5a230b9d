import { mkdir, open, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng } from '../random';
import { fromNumbers, SafetensorsFile, serialize, toFloat32, toFloat64, type RawTensor } from './safetensors';
import { gatherRows, permutation, type ActivationSource } from './source';
import type { MultiBlockSource } from './train';

/**
 * The on-disk activation store: residual-stream rows (float32 vectors of d_model)
 * for several blocks, with per-row metadata, in safetensors shards of bounded
 * size plus an index.json manifest. Row i of every block is the same token, so
 * SAEs for several blocks train in one pass and latents join their targets by id.
 *
 *   index.json             {format, version, dModel, blocks, metaFields, rowCount, shards: [{file, rows}], metadata}
 *   shard-00000.safetensors  block.<L> [rows, dModel] F32 for each block, meta.<field> [rows] I64 for each field
 */

export const INDEX_FILE = 'index.json';
const FORMAT = 'icrl-lens-activations';

/** Per-row metadata: an `id` (to join with targets) and the store's declared fields, all integers. */
export type RowMeta = Record<string, number>;

export interface StoreWriterOptions {
  blocks: number[];
  dModel: number;
  /** Integer fields every row carries besides `id`. Default experiment, episode, position, token. */
  metaFields?: string[];
  /** Shards hold at most this many bytes of activations. Default 64 MiB. */
  shardBytes?: number;
  /** Free-form description kept in the manifest (model, task, seed...). */
  metadata?: Record<string, unknown>;
}

interface Manifest {
  format: typeof FORMAT;
  version: 1;
  dModel: number;
  blocks: number[];
  metaFields: string[];
  rowCount: number;
  shards: { file: string; rows: number }[];
  metadata: Record<string, unknown>;
}

export class ActivationStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ActivationStoreError';
  }
}

const blockTensor = (block: number) => `block.${block}`;
const metaTensor = (field: string) => `meta.${field}`;

/** Rows waiting to be written for one block. */
class RowQueue {
  private chunks: Float32Array[] = [];
  rows = 0;
  constructor(private readonly width: number) {}

  push(data: Float32Array): void {
    this.chunks.push(data.slice());
    this.rows += data.length / this.width;
  }

  take(n: number): Float32Array {
    const out = new Float32Array(n * this.width);
    let filled = 0;
    while (filled < out.length) {
      const chunk = this.chunks[0];
      const need = out.length - filled;
      if (chunk.length <= need) {
        out.set(chunk, filled);
        filled += chunk.length;
        this.chunks.shift();
      } else {
        out.set(chunk.subarray(0, need), filled);
        this.chunks[0] = chunk.subarray(need);
        filled += need;
      }
    }
    this.rows -= n;
    return out;
  }
}

export class ActivationStoreWriter {
  private readonly queues = new Map<number, RowQueue>();
  /** Metadata of rows not yet written, in row order, from the first block to append each row. */
  private metaQueue: RowMeta[] = [];
  /** Rows appended per block, counted from the first row not yet written. */
  private readonly pending = new Map<number, number>();
  private readonly manifest: Manifest;
  private readonly shardRows: number;
  private closed = false;

  private constructor(
    readonly dir: string,
    options: Required<StoreWriterOptions>,
  ) {
    this.manifest = {
      format: FORMAT,
      version: 1,
      dModel: options.dModel,
      blocks: [...options.blocks],
      metaFields: ['id', ...options.metaFields],
      rowCount: 0,
      shards: [],
      metadata: options.metadata,
    };
    this.shardRows = Math.max(1, Math.floor(options.shardBytes / (4 * options.dModel * options.blocks.length)));
    for (const block of options.blocks) {
      this.queues.set(block, new RowQueue(options.dModel));
      this.pending.set(block, 0);
    }
  }

  /** Starts a new store in `dir` (created if needed; an existing store there is an error). */
  static async open(dir: string, options: StoreWriterOptions): Promise<ActivationStoreWriter> {
    const { blocks, dModel } = options;
    if (!Array.isArray(blocks) || blocks.length === 0 || !blocks.every((b) => Number.isInteger(b) && b >= 0) || new Set(blocks).size !== blocks.length) {
      throw new ActivationStoreError(`blocks = ${JSON.stringify(blocks)} is not allowed: a non-empty list of distinct block indices`);
    }
    if (!Number.isInteger(dModel) || dModel < 1) throw new ActivationStoreError(`dModel = ${dModel} is not allowed: a positive integer`);
    const metaFields = options.metaFields ?? ['experiment', 'episode', 'position', 'token'];
    if (metaFields.includes('id')) throw new ActivationStoreError('metaFields must not list "id": every row has one');
    const exists = await stat(join(dir, INDEX_FILE)).then(
      () => true,
      () => false,
    );
    if (exists) throw new ActivationStoreError(`${dir} already holds an activation store; choose an empty folder`);
    await mkdir(dir, { recursive: true });
    const writer = new ActivationStoreWriter(dir, { blocks, dModel, metaFields, shardBytes: options.shardBytes ?? 64 * 2 ** 20, metadata: options.metadata ?? {} });
    await writer.writeManifest();
    return writer;
  }

  get rowCount(): number {
    return this.manifest.rowCount;
  }

  /**
   * Appends rows for one block ([n, dModel] row-major) with their metadata. Every
   * block must get the same rows in the same order; ids are checked to catch slips.
   */
  async append(block: number, rows: Float32Array, meta: RowMeta[]): Promise<void> {
    if (this.closed) throw new ActivationStoreError('the store is closed');
    const queue = this.queues.get(block);
    if (!queue) throw new ActivationStoreError(`block ${block} is not one of this store's blocks (${this.manifest.blocks.join(', ')})`);
    const { dModel, metaFields } = this.manifest;
    if (rows.length % dModel !== 0) throw new ActivationStoreError(`block ${block}: ${rows.length} values are not whole rows of dModel ${dModel}`);
    const n = rows.length / dModel;
    if (meta.length !== n) throw new ActivationStoreError(`block ${block}: ${n} rows but ${meta.length} metadata entries`);
    const start = this.pending.get(block)!;
    for (let i = 0; i < n; i++) {
      const m = meta[i];
      for (const field of metaFields) {
        if (!Number.isSafeInteger(m[field])) throw new ActivationStoreError(`block ${block}, row ${i}: meta.${field} = ${JSON.stringify(m[field])} is not an integer`);
      }
      const at = start + i;
      if (at < this.metaQueue.length) {
        if (this.metaQueue[at].id !== m.id) {
          throw new ActivationStoreError(
            `block ${block}, row ${i}: id ${m.id} differs from id ${this.metaQueue[at].id} appended at the same position for another block; append every block the same rows in the same order`,
          );
        }
      } else {
        this.metaQueue.push(Object.fromEntries(metaFields.map((f) => [f, m[f]])));
      }
    }
    queue.push(rows);
    this.pending.set(block, start + n);
    while (Math.min(...this.pending.values()) >= this.shardRows) await this.writeShard(this.shardRows);
  }

  /** Writes the remaining rows and the manifest. Every block must have the same number of rows. */
  async close(): Promise<void> {
    if (this.closed) return;
    const counts = [...this.pending.entries()];
    const rows = counts[0][1];
    if (counts.some(([, c]) => c !== rows)) {
      throw new ActivationStoreError(`blocks have different numbers of rows: ${counts.map(([b, c]) => `block ${b}: ${this.rowCount + c}`).join(', ')}`);
    }
    if (rows > 0) await this.writeShard(rows);
    this.closed = true;
    await this.writeManifest();
  }

  private async writeShard(rows: number): Promise<void> {
    const { dModel, metaFields } = this.manifest;
    const tensors = new Map<string, RawTensor>();
    for (const [block, queue] of this.queues) {
      const data = queue.take(rows);
      tensors.set(blockTensor(block), { dtype: 'F32', shape: [rows, dModel], data: new Uint8Array(data.buffer) });
      this.pending.set(block, this.pending.get(block)! - rows);
    }
    const meta = this.metaQueue.splice(0, rows);
    for (const field of metaFields) tensors.set(metaTensor(field), fromNumbers(meta.map((m) => m[field]), [rows], 'I64'));
    const file = `shard-${String(this.manifest.shards.length).padStart(5, '0')}.safetensors`;
    await writeFile(join(this.dir, file), serialize(tensors, { format: FORMAT, first_row: String(this.manifest.rowCount) }));
    this.manifest.shards.push({ file, rows });
    this.manifest.rowCount += rows;
    await this.writeManifest();
  }

  /** Written after every shard (through a rename), so a crash leaves a readable store of the rows so far. */
  private async writeManifest(): Promise<void> {
    const path = join(this.dir, INDEX_FILE);
    await writeFile(`${path}.tmp`, `${JSON.stringify(this.manifest, null, 2)}\n`);
    await rename(`${path}.tmp`, path);
  }
}

export interface StoreReadOptions {
  /** Memory for the shuffle pool, in bytes across the blocks read. Default 256 MiB. */
  bufferBytes?: number;
}

/** Reads an activation store: shuffled batches streamed across shards, samples, and whole blocks for small stores. */
export class ActivationStore implements MultiBlockSource {
  private readonly files = new Map<string, Promise<SafetensorsFile>>();

  private constructor(
    readonly dir: string,
    private readonly manifest: Manifest,
    private readonly bufferBytes: number,
  ) {}

  static async open(dir: string, options: StoreReadOptions = {}): Promise<ActivationStore> {
    const path = join(dir, INDEX_FILE);
    let manifest: Manifest;
    try {
      manifest = JSON.parse(await readFile(path, 'utf8'));
    } catch (e) {
      throw new ActivationStoreError(`${path}: cannot read the manifest (${(e as Error).message})`);
    }
    if (manifest.format !== FORMAT || manifest.version !== 1) {
      throw new ActivationStoreError(`${path}: not an activation store manifest (format ${JSON.stringify(manifest.format)}, version ${manifest.version})`);
    }
    const counted = manifest.shards.reduce((s, shard) => s + shard.rows, 0);
    if (counted !== manifest.rowCount) throw new ActivationStoreError(`${path}: shards hold ${counted} rows but rowCount is ${manifest.rowCount}`);
    return new ActivationStore(dir, manifest, options.bufferBytes ?? 256 * 2 ** 20);
  }

  get dModel(): number {
    return this.manifest.dModel;
  }
  get blocks(): readonly number[] {
    return this.manifest.blocks;
  }
  get rowCount(): number {
    return this.manifest.rowCount;
  }
  get metaFields(): readonly string[] {
    return this.manifest.metaFields;
  }
  get metadata(): Record<string, unknown> {
    return this.manifest.metadata;
  }

  private file(index: number): Promise<SafetensorsFile> {
    const name = this.manifest.shards[index].file;
    let f = this.files.get(name);
    if (!f) {
      f = SafetensorsFile.open(join(this.dir, name));
      this.files.set(name, f);
    }
    return f;
  }

  private checkBlock(block: number): void {
    if (!this.manifest.blocks.includes(block)) throw new ActivationStoreError(`block ${block} is not in this store (blocks ${this.manifest.blocks.join(', ')})`);
  }

  private async readShard(index: number, blocks: readonly number[]): Promise<Float32Array[]> {
    const file = await this.file(index);
    return Promise.all(blocks.map(async (b) => toFloat32(await file.read(blockTensor(b)))));
  }

  /** Every row of one block, in order (for stores that fit in memory). */
  async readAll(block: number): Promise<Float32Array> {
    this.checkBlock(block);
    const out = new Float32Array(this.rowCount * this.dModel);
    let offset = 0;
    for (let i = 0; i < this.manifest.shards.length; i++) {
      const [data] = await this.readShard(i, [block]);
      out.set(data, offset);
      offset += data.length;
    }
    return out;
  }

  /** Every row's value of one metadata field, in order. */
  async readMeta(field: string): Promise<Float64Array> {
    if (!this.manifest.metaFields.includes(field)) throw new ActivationStoreError(`no metadata field ${field} (fields ${this.manifest.metaFields.join(', ')})`);
    const out = new Float64Array(this.rowCount);
    let offset = 0;
    for (let i = 0; i < this.manifest.shards.length; i++) {
      const values = toFloat64(await (await this.file(i)).read(metaTensor(field)));
      out.set(values, offset);
      offset += values.length;
    }
    return out;
  }

  /**
   * One epoch of shuffled batches. Shards are visited in a seeded random order,
   * a few at a time (as many as fit `bufferBytes`); the rows of those shards are
   * shuffled together and cut into batches, and rows left over join the next
   * group, so every row is used exactly once per epoch and batches mix shards.
   * The final batch may be shorter.
   */
  batches(block: number, batchSize: number, seed: number, signal?: AbortSignal): AsyncIterable<Float32Array>;
  batches(blocks: number[], batchSize: number, seed: number, signal?: AbortSignal): AsyncIterable<Float32Array[]>;
  batches(which: number | number[], batchSize: number, seed: number, signal?: AbortSignal): AsyncIterable<Float32Array | Float32Array[]> {
    if (Array.isArray(which)) return this.groupBatches(which, batchSize, seed, signal);
    const inner = this.groupBatches([which], batchSize, seed, signal);
    return (async function* () {
      for await (const group of inner) yield group[0];
    })();
  }

  private async *groupBatches(blocks: number[], batchSize: number, seed: number, signal?: AbortSignal): AsyncIterable<Float32Array[]> {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize = ${batchSize} is not a positive integer`);
    blocks.forEach((b) => this.checkBlock(b));
    const d = this.dModel;
    const rng = Rng.fromSeed(seed);
    const order = permutation(this.manifest.shards.length, rng);
    const poolRows = Math.max(batchSize, Math.floor(this.bufferBytes / (4 * d * blocks.length)));
    let carry: Float32Array[] = blocks.map(() => new Float32Array(0));
    let next = 0;
    while (next < order.length) {
      signal?.throwIfAborted();
      const parts: Float32Array[][] = [carry];
      let rows = carry[0].length / d;
      while (next < order.length && (rows === 0 || rows + this.manifest.shards[order[next]].rows <= poolRows)) {
        const shard = await this.readShard(order[next], blocks);
        parts.push(shard);
        rows += this.manifest.shards[order[next]].rows;
        next++;
      }
      const pool = blocks.map((_, bi) => concat(parts.map((p) => p[bi]), rows * d));
      const mix = permutation(rows, rng);
      const last = next === order.length;
      const full = Math.floor(rows / batchSize) * batchSize;
      const end = last ? rows : full;
      for (let start = 0; start < end; start += batchSize) {
        signal?.throwIfAborted();
        const idx = mix.subarray(start, Math.min(start + batchSize, end));
        yield pool.map((data) => gatherRows(data, d, idx));
      }
      carry = last ? blocks.map(() => new Float32Array(0)) : pool.map((data) => gatherRows(data, d, mix.subarray(full)));
    }
  }

  /** Up to `n` rows of each block, drawn uniformly without replacement, the same rows for every block. */
  async sampleRows(blocks: number[], n: number, seed: number): Promise<Float32Array[]> {
    blocks.forEach((b) => this.checkBlock(b));
    const d = this.dModel;
    const take = Math.min(n, this.rowCount);
    const chosen = permutation(this.rowCount, Rng.fromSeed(seed)).subarray(0, take).sort();
    const out = blocks.map(() => new Float32Array(take * d));
    let shardStart = 0;
    let c = 0;
    for (let s = 0; s < this.manifest.shards.length && c < take; s++) {
      const shardRows = this.manifest.shards[s].rows;
      const local: number[] = [];
      while (c + local.length < take && chosen[c + local.length] < shardStart + shardRows) local.push(chosen[c + local.length] - shardStart);
      if (local.length > 0) {
        const file = await this.file(s);
        const handle = await open(file.path, 'r');
        try {
          for (let bi = 0; bi < blocks.length; bi++) {
            const info = file.info(blockTensor(blocks[bi]));
            const target = new Uint8Array(out[bi].buffer);
            for (let i = 0; i < local.length; i++) {
              await handle.read(target, (c + i) * d * 4, d * 4, info.begin + local[i] * d * 4);
            }
          }
        } finally {
          await handle.close();
        }
        c += local.length;
      }
      shardStart += shardRows;
    }
    return out;
  }

  /** Every row of one block, in order, a shard at a time. */
  async *chunks(block: number, signal?: AbortSignal): AsyncIterable<Float32Array> {
    this.checkBlock(block);
    for (let i = 0; i < this.manifest.shards.length; i++) {
      signal?.throwIfAborted();
      const [data] = await this.readShard(i, [block]);
      yield data;
    }
  }

  /** One block of the store as an {@link ActivationSource} for training and evaluation. */
  source(block: number): ActivationSource {
    this.checkBlock(block);
    const store = this;
    return {
      dIn: this.dModel,
      rowCount: this.rowCount,
      batches: (batchSize, seed, signal) => store.batches(block, batchSize, seed, signal),
      sample: async (n, seed) => (await store.sampleRows([block], n, seed))[0],
      async *chunks(chunkRows, signal) {
        for await (const shard of store.chunks(block, signal)) {
          for (let start = 0; start < shard.length; start += chunkRows * store.dModel) yield shard.subarray(start, start + chunkRows * store.dModel);
        }
      },
    };
  }
}

function concat(arrays: Float32Array[], length: number): Float32Array {
  if (arrays.length === 1 && arrays[0].length === length) return arrays[0];
  const out = new Float32Array(length);
  let offset = 0;
  for (const a of arrays) {
    out.set(a, offset);
    offset += a.length;
  }
  return out;
}
