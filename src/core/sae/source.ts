import { Rng } from '../random';

/**
 * Rows of activations to train or evaluate an SAE on: the on-disk activation
 * store (one block of it) or an array in memory. Rows are float32 vectors of
 * length dIn, row-major.
 */
export interface ActivationSource {
  readonly dIn: number;
  readonly rowCount: number;
  /** One epoch in shuffled order, in batches of `batchSize` rows (the last may be shorter). */
  batches(batchSize: number, seed: number, signal?: AbortSignal): AsyncIterable<Float32Array>;
  /** Up to `n` rows drawn without replacement (for normalisation and initialisation). */
  sample(n: number, seed: number): Promise<Float32Array>;
  /** Every row in order, in chunks of at most `chunkRows` (for evaluation). */
  chunks(chunkRows: number, signal?: AbortSignal): AsyncIterable<Float32Array>;
}

/** Copies the given rows of a row-major matrix into one array. */
export function gatherRows(data: Float32Array, dIn: number, rows: ArrayLike<number>): Float32Array {
  const out = new Float32Array(rows.length * dIn);
  for (let i = 0; i < rows.length; i++) out.set(data.subarray(rows[i] * dIn, (rows[i] + 1) * dIn), i * dIn);
  return out;
}

/** A shuffled permutation of 0..n-1 as a typed array (Fisher-Yates over the seeded stream). */
export function permutation(n: number, rng: Rng): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(0, i + 1);
    const tmp = order[i];
    order[i] = order[j];
    order[j] = tmp;
  }
  return order;
}

/** An {@link ActivationSource} over rows held in memory. */
export function memorySource(data: Float32Array, dIn: number): ActivationSource {
  if (data.length % dIn !== 0) throw new RangeError(`${data.length} values are not whole rows of ${dIn}`);
  const rowCount = data.length / dIn;
  return {
    dIn,
    rowCount,
    async *batches(batchSize, seed, signal) {
      const order = permutation(rowCount, Rng.fromSeed(seed));
      for (let start = 0; start < rowCount; start += batchSize) {
        signal?.throwIfAborted();
        yield gatherRows(data, dIn, order.subarray(start, Math.min(start + batchSize, rowCount)));
      }
    },
    async sample(n, seed) {
      const order = permutation(rowCount, Rng.fromSeed(seed));
      return gatherRows(data, dIn, order.subarray(0, Math.min(n, rowCount)));
    },
    async *chunks(chunkRows, signal) {
      for (let start = 0; start < rowCount; start += chunkRows) {
        signal?.throwIfAborted();
        yield data.subarray(start * dIn, Math.min(start + chunkRows, rowCount) * dIn);
      }
    },
  };
}
