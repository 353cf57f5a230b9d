import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActivationStore, ActivationStoreWriter, ActivationStoreError, type RowMeta } from '../../../src/core/sae/activationStore';
import { deserialize } from '../../../src/core/sae/safetensors';

const dModel = 5;
const blocks = [0, 3, 7];
const rowsTotal = 103;

/** Row r of block b holds [id, b, id * 0.5, -id, b * 100 + id]: every value says which row it is. */
function rowValues(id: number, block: number): number[] {
  return [id, block, id * 0.5, -id, block * 100 + id];
}

async function writeStore(shardBytes = 4 * dModel * blocks.length * 16): Promise<string> {
  const dir = join(mkdtempSync(join(tmpdir(), 'store-')), 'acts');
  const writer = await ActivationStoreWriter.open(dir, { blocks, dModel, shardBytes, metadata: { model: 'test' } });
  // Appends of uneven sizes, blocks interleaved as a model writes them batch by batch.
  const sizes = [10, 1, 30, 7, 25, 30];
  let id = 0;
  for (const n of sizes) {
    const meta: RowMeta[] = Array.from({ length: n }, (_, i) => ({ id: id + i, experiment: Math.floor((id + i) / 20), episode: (id + i) % 20, position: i, token: 42 }));
    for (const b of blocks) {
      const rows = Float32Array.from(meta.flatMap((m) => rowValues(m.id, b)));
      await writer.append(b, rows, meta);
    }
    id += n;
  }
  await writer.close();
  assert.equal(writer.rowCount, rowsTotal);
  return dir;
}

test('writes bounded shards and a manifest, and reads back every block and field in order', async () => {
  const dir = await writeStore();
  const shards = readdirSync(dir).filter((f) => f.endsWith('.safetensors'));
  assert.equal(shards.length, Math.ceil(rowsTotal / 16));
  for (const f of shards) {
    const { tensors, metadata } = deserialize(readFileSync(join(dir, f)));
    assert.equal(metadata.format, 'icrl-lens-activations');
    assert.ok(tensors.get('block.3')!.shape[0] <= 16);
    assert.deepEqual([...tensors.keys()].sort(), ['block.0', 'block.3', 'block.7', 'meta.episode', 'meta.experiment', 'meta.id', 'meta.position', 'meta.token']);
  }
  const store = await ActivationStore.open(dir);
  assert.equal(store.rowCount, rowsTotal);
  assert.deepEqual(store.blocks, blocks);
  assert.deepEqual(store.metadata, { model: 'test' });
  for (const b of blocks) {
    const all = await store.readAll(b);
    assert.deepEqual([...all], Array.from({ length: rowsTotal }, (_, id) => rowValues(id, b)).flat());
  }
  assert.deepEqual([...(await store.readMeta('id'))], Array.from({ length: rowsTotal }, (_, i) => i));
  assert.deepEqual([...(await store.readMeta('episode'))], Array.from({ length: rowsTotal }, (_, i) => i % 20));
});

test('streams shuffled batches that cover every row once per epoch, aligned across blocks, seeded', async () => {
  const dir = await writeStore();
  // A pool of about 40 rows: batches must mix shards and carry leftovers between pools.
  const store = await ActivationStore.open(dir, { bufferBytes: 4 * dModel * 2 * 40 });
  const epoch = async (seed: number) => {
    const ids: number[] = [];
    const sizes: number[] = [];
    for await (const [a, b] of store.batches([0, 7], 8, seed)) {
      sizes.push(a.length / dModel);
      for (let r = 0; r < a.length / dModel; r++) {
        const id = a[r * dModel];
        assert.deepEqual([...a.subarray(r * dModel, (r + 1) * dModel)], rowValues(id, 0));
        assert.deepEqual([...b.subarray(r * dModel, (r + 1) * dModel)], rowValues(id, 7), 'same row in both blocks');
        ids.push(id);
      }
    }
    return { ids, sizes };
  };
  const first = await epoch(1);
  assert.deepEqual([...first.ids].sort((p, q) => p - q), Array.from({ length: rowsTotal }, (_, i) => i));
  assert.deepEqual(first.sizes, [...Array(12).fill(8), 7]);
  assert.deepEqual((await epoch(1)).ids, first.ids, 'same seed, same order');
  assert.notDeepEqual((await epoch(2)).ids, first.ids, 'another seed, another order');
  // Shuffled well beyond shard boundaries: the first batch draws on more than one shard of 16 rows.
  const firstBatchShards = new Set(first.ids.slice(0, 8).map((id) => Math.floor(id / 16)));
  assert.ok(firstBatchShards.size > 1);

  const single: number[] = [];
  for await (const batch of store.batches(3, 50, 9)) for (let r = 0; r < batch.length / dModel; r++) single.push(batch[r * dModel]);
  assert.equal(new Set(single).size, rowsTotal);
});

test('samples the same random rows of each block, and serves a block as a training source', async () => {
  const store = await ActivationStore.open(await writeStore());
  const [a, b] = await store.sampleRows([0, 3], 30, 4);
  const ids = Array.from({ length: 30 }, (_, r) => a[r * dModel]);
  assert.equal(new Set(ids).size, 30);
  for (let r = 0; r < 30; r++) assert.deepEqual([...b.subarray(r * dModel, (r + 1) * dModel)], rowValues(ids[r], 3));
  const source = store.source(7);
  assert.equal(source.rowCount, rowsTotal);
  const chunks: number[] = [];
  for await (const c of source.chunks(10)) chunks.push(c.length / dModel);
  assert.equal(chunks.reduce((s, n) => s + n, 0), rowsTotal);
  assert.ok(chunks.every((n) => n <= 10));
});

test('refuses misaligned appends, unequal blocks, unknown blocks and an existing store', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'store-bad-')), 'acts');
  const writer = await ActivationStoreWriter.open(dir, { blocks: [0, 1], dModel: 2, metaFields: [] });
  await writer.append(0, new Float32Array(4), [{ id: 1 }, { id: 2 }]);
  await assert.rejects(writer.append(1, new Float32Array(4), [{ id: 1 }, { id: 3 }]), /id 3 differs from id 2/);
  await assert.rejects(writer.append(2, new Float32Array(2), [{ id: 1 }]), /block 2 is not one of this store's blocks/);
  await assert.rejects(writer.append(1, new Float32Array(3), [{ id: 1 }]), /not whole rows/);
  await assert.rejects(writer.close(), ActivationStoreError);
  await assert.rejects(ActivationStoreWriter.open(dir, { blocks: [0], dModel: 2 }), /already holds an activation store/);
  const store = await ActivationStore.open(dir);
  assert.throws(() => store.source(5), /block 5 is not in this store/);
});
