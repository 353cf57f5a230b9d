import { ActivationStoreWriter, type RowMeta } from '../sae/activationStore';

/**
 * Which positions a recorder keeps: only the answer points (where the targets
 * live), or every token the model reads, so that SAEs learn the residual stream
 * as the model uses it throughout the text (the answer rows are among them).
 */
export type RecordedPositions = 'answers' | 'every';

/** The `step` of a recorded row that is not an answer point. */
export const NOT_AN_ANSWER = -1;

/** The integer fields every recorded row carries besides its `id`. */
export const RECORDED_FIELDS = ['experiment', 'episode', 'step', 'position', 'token'];

/**
 * Collects residual-stream rows of chosen blocks and appends them to an
 * activation store, every block the same rows in the same order, each row with
 * a running `id` that joins it to its targets later.
 */
export class ResidualRecorder {
  private nextId = 0;
  private readonly rows = new Map<number, Float32Array[]>();
  private meta: RowMeta[] = [];

  constructor(
    readonly store: ActivationStoreWriter,
    readonly blocks: readonly number[],
    readonly dModel: number,
    readonly positions: RecordedPositions = 'answers',
  ) {
    for (const b of blocks) this.rows.set(b, []);
  }

  /** A recorder writing to a new activation store in `dir` (an empty or missing folder; the store makes it). */
  static async open(dir: string, blocks: readonly number[], dModel: number, positions: RecordedPositions = 'answers'): Promise<ResidualRecorder> {
    const store = await ActivationStoreWriter.open(dir, { blocks: [...blocks], dModel, metaFields: RECORDED_FIELDS });
    return new ResidualRecorder(store, blocks, dModel, positions);
  }

  /** Writes what is queued and closes the store. */
  async close(): Promise<void> {
    await this.flush();
    await this.store.close();
  }

  /** Queues one row per block (`row(block)` gives it) with its metadata; returns the row's id. */
  add(row: (block: number) => Float32Array, meta: Omit<RowMeta, 'id'>): number {
    return this.addRows(row, [meta]);
  }

  /**
   * Queues consecutive rows of one sequence per block: `rows(block)` gives them
   * as [meta.length, dModel]. Returns the first row's id; the others follow in order.
   */
  addRows(rows: (block: number) => Float32Array, meta: readonly Omit<RowMeta, 'id'>[]): number {
    const first = this.nextId;
    for (const b of this.blocks) {
      const data = rows(b);
      if (data.length !== meta.length * this.dModel) {
        throw new RangeError(`block ${b}: ${data.length} values for ${meta.length} rows of dModel ${this.dModel}`);
      }
      this.rows.get(b)!.push(data.slice());
    }
    for (const m of meta) this.meta.push({ ...m, id: this.nextId++ });
    return first;
  }

  /** Writes what was queued. */
  async flush(): Promise<void> {
    if (this.meta.length === 0) return;
    for (const b of this.blocks) {
      const parts = this.rows.get(b)!;
      const data = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
      let offset = 0;
      for (const p of parts) {
        data.set(p, offset);
        offset += p.length;
      }
      await this.store.append(b, data, this.meta);
      this.rows.set(b, []);
    }
    this.meta = [];
  }
}
