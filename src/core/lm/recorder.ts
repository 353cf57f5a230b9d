import type { ActivationStoreWriter, RowMeta } from '../sae/activationStore';

/**
 * Collects residual-stream rows of chosen blocks at answer points and appends
 * them to an activation store, every block the same rows in the same order, each
 * row with a running `id` that joins it to its targets later.
 */
export class ResidualRecorder {
  private nextId = 0;
  private readonly rows = new Map<number, Float32Array[]>();
  private meta: RowMeta[] = [];

  constructor(
    readonly store: ActivationStoreWriter,
    readonly blocks: readonly number[],
    readonly dModel: number,
  ) {
    for (const b of blocks) this.rows.set(b, []);
  }

  /** Queues one row per block (`row(block)` gives it) with its metadata; returns the row's id. */
  add(row: (block: number) => Float32Array, meta: Omit<RowMeta, 'id'>): number {
    const id = this.nextId++;
    for (const b of this.blocks) this.rows.get(b)!.push(row(b).slice());
    this.meta.push({ ...meta, id });
    return id;
  }

  /** Writes what was queued. */
  async flush(): Promise<void> {
    if (this.meta.length === 0) return;
    for (const b of this.blocks) {
      const rows = this.rows.get(b)!;
      const data = new Float32Array(rows.length * this.dModel);
      rows.forEach((r, i) => data.set(r, i * this.dModel));
      await this.store.append(b, data, this.meta);
      this.rows.set(b, []);
    }
    this.meta = [];
  }
}
