import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { loadModel, type LanguageModel } from '../../../src/core/lm/runtime';
import { dampDelta, referenceDeltas, runtimeInterventions, waveDelta, type RowDelta } from '../../fixtures/lm/deltas';
import { tempDir, writeModelFolder } from '../../fixtures/lm/folders';
import { allTestModels, llamaModel, maxAbsDiff, tokenIds, type TestModel } from '../../fixtures/lm/models';

const dir = tempDir();
after(() => dir.remove());

/** Logits of the model as exported (no surgery), straight from onnxruntime. */
async function originalLogits(m: TestModel, ids: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(m.bytes);
  const n = ids.length;
  const ints = (values: number[]) => new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), [1, values.length]);
  const feeds: Record<string, ort.Tensor> = { input_ids: ints(ids), attention_mask: ints(ids.map(() => 1)) };
  if (session.inputNames.includes('position_ids')) feeds.position_ids = ints(ids.map((_, i) => i));
  const hd = m.config.dModel / m.config.heads;
  for (const name of session.inputNames.filter((x) => x.startsWith('past_key_values'))) {
    feeds[name] = new ort.Tensor('float32', new Float32Array(0), [1, m.config.kvHeads, 0, hd]);
  }
  const out = await session.run(feeds);
  await session.release();
  assert.equal(out.logits.dims.join(), [1, n, m.config.vocab].join());
  return out.logits.data as Float32Array;
}

allTestModels().forEach((m, k) => {
  describe(m.name, () => {
    let model: LanguageModel;
    const { vocab, layers, dModel } = m.config;

    before(async () => {
      const folder = join(dir.path, `model-${k}`);
      writeModelFolder(folder, m.bytes);
      model = await loadModel(folder, { cacheDir: join(dir.path, 'cache'), provider: 'cpu' });
    });
    after(() => model.dispose());

    test('finds one tap per block and reports the provider', () => {
      assert.equal(model.info.blocks.length, layers);
      assert.equal(model.info.dModel, dModel);
      assert.equal(model.hasKvCache, m.kvCache);
      assert.equal(model.providers.provider, 'cpu');
    });

    test('taps and logits equal the float64 reference at every position', async () => {
      const sequences = [tokenIds(7, vocab, 1), tokenIds(4, vocab, 2)];
      const result = await model.forward(sequences, { taps: 'all', allPositions: true });
      sequences.forEach((ids, b) => {
        const ref = m.reference(ids);
        for (let block = 0; block < layers; block++) {
          assert.ok(maxAbsDiff(result.taps.get(block)![b], ref.taps[block]) < 1e-4, `block ${block}, sequence ${b}`);
        }
        assert.ok(maxAbsDiff(result.logits[b], ref.logits) < 1e-4, `logits of sequence ${b}`);
      });
    });

    test('zero deltas reproduce the original export within 1e-5', async () => {
      const ids = tokenIds(9, vocab, 3);
      const zeros = Object.fromEntries(Array.from({ length: layers }, (_, block) => [block, (r: { data: Float32Array }) => new Float32Array(r.data.length)]));
      const rewritten = await model.forward([ids], { allPositions: true, interventions: zeros });
      assert.ok(maxAbsDiff(rewritten.logits[0], await originalLogits(m, ids)) < 1e-5);
    });

    test('a delta at block i leaves earlier taps unchanged and changes later ones as the reference does', async () => {
      const ids = tokenIds(6, vocab, 4);
      const base = await model.forward([ids], { taps: 'all' });
      for (let i = 0; i < layers; i++) {
        const rules = { [i]: waveDelta };
        const hit = await model.forward([ids], { taps: 'all', allPositions: true, interventions: runtimeInterventions(rules) });
        const ref = m.reference(ids, referenceDeltas(rules, dModel));
        for (let block = 0; block < layers; block++) {
          const change = maxAbsDiff(hit.taps.get(block)![0], base.taps.get(block)![0]);
          if (block < i) assert.equal(change, 0, `block ${block} before the delta at ${i} changed`);
          else assert.ok(change > 1e-2, `block ${block} after the delta at ${i} did not change`);
          assert.ok(maxAbsDiff(hit.taps.get(block)![0], ref.taps[block]) < 1e-4, `block ${block} with a delta at ${i}`);
        }
        assert.ok(maxAbsDiff(hit.logits[0], ref.logits) < 1e-4);
      }
    });

    test('deltas computed from the residual (read pass, then delta pass) match the reference, batched', async () => {
      const sequences = [tokenIds(5, vocab, 5), tokenIds(8, vocab, 6)];
      const cases: Record<number, RowDelta>[] = [{ 1: dampDelta }, { 0: dampDelta, [layers - 1]: waveDelta }];
      for (const rules of cases) {
        const result = await model.forward(sequences, { taps: 'all', allPositions: true, interventions: runtimeInterventions(rules) });
        sequences.forEach((ids, b) => {
          const ref = m.reference(ids, referenceDeltas(rules, dModel));
          for (let block = 0; block < layers; block++) assert.ok(maxAbsDiff(result.taps.get(block)![b], ref.taps[block]) < 1e-4, `block ${block}`);
          assert.ok(maxAbsDiff(result.logits[b], ref.logits) < 1e-4);
        });
      }
    });

    test('padded batches give the same results as single sequences', async () => {
      const sequences = [tokenIds(5, vocab, 7), tokenIds(11, vocab, 8), tokenIds(2, vocab, 9)];
      const batched = await model.forward(sequences, { taps: 'all' });
      for (let b = 0; b < sequences.length; b++) {
        const single = await model.forward([sequences[b]], { taps: 'all' });
        assert.equal(batched.lengths[b], sequences[b].length);
        assert.ok(maxAbsDiff(batched.logits[b], single.logits[0]) < 1e-5, `logits of sequence ${b}`);
        for (let block = 0; block < layers; block++) assert.ok(maxAbsDiff(batched.taps.get(block)![b], single.taps.get(block)![0]) < 1e-5);
      }
    });
  });
});

describe('cancellation', () => {
  test('an aborted signal stops a pass before its next onnxruntime run', async () => {
    const m = llamaModel();
    const model = await loadModel(writeModelFolder(join(dir.path, 'abort'), m.bytes), { cacheDir: join(dir.path, 'cache'), provider: 'cpu' });
    const ids = [tokenIds(4, m.config.vocab, 1)];
    await assert.rejects(model.forward(ids, { signal: AbortSignal.abort() }), { name: 'AbortError' });
    const controller = new AbortController();
    const seen: number[] = [];
    const stopAtFirst = (r: { block: number; data: Float32Array }) => {
      seen.push(r.block);
      controller.abort();
      return new Float32Array(r.data.length);
    };
    await assert.rejects(model.forward(ids, { signal: controller.signal, interventions: { 0: stopAtFirst, 1: stopAtFirst } }), { name: 'AbortError' });
    assert.deepEqual(seen, [0]);
    await model.dispose();
  });
});
