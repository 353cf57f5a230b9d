import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ModelError } from '../../../src/core/lm/errors';
import { loadModel, type LanguageModel } from '../../../src/core/lm/runtime';
import { dampDelta, referenceDeltas, runtimeInterventions } from '../../fixtures/lm/deltas';
import { tempDir, writeModelFolder } from '../../fixtures/lm/folders';
import { gptModel, llamaModel, maxAbsDiff, rows, tokenIds, type TestModel } from '../../fixtures/lm/models';

const dir = tempDir();
after(() => dir.remove());
let counter = 0;

async function load(m: TestModel): Promise<LanguageModel> {
  const folder = join(dir.path, `model-${counter++}`);
  writeModelFolder(folder, m.bytes);
  return loadModel(folder, { cacheDir: join(dir.path, 'cache'), provider: 'cpu' });
}

/** Three sequences that grow unevenly; some steps append nothing to a sequence. */
function appendPlan(vocab: number): number[][][] {
  const chunk = (length: number, salt: number) => tokenIds(length, vocab, salt);
  return [
    [chunk(5, 1), chunk(2, 2), []],
    [chunk(1, 3), chunk(5, 4), chunk(3, 5)],
    [chunk(2, 6), [], chunk(1, 7)],
    [chunk(1, 8), chunk(1, 9), chunk(4, 10)],
  ];
}

for (const m of [gptModel({ kvCache: true }), llamaModel({ kvCache: true }), llamaModel({ kvCache: false })]) {
  describe(`appending to ${m.name}`, () => {
    test('incremental logits and taps equal a full recomputation within 1e-4', async () => {
      const model = await load(m);
      const { vocab, dModel, layers } = m.config;
      const batch = model.startSequences(3);
      assert.equal(batch.incremental, m.kvCache);
      const grown: number[][] = [[], [], []];
      for (const step of appendPlan(vocab)) {
        const before = grown.map((s) => s.length);
        const result = await batch.append(step, { taps: 'all', allPositions: true });
        step.forEach((ids, b) => grown[b].push(...ids));
        assert.deepEqual(result.start, before);
        assert.deepEqual(batch.lengths, grown.map((s) => s.length));
        for (let b = 0; b < 3; b++) {
          if (grown[b].length === 0) continue;
          const full = await model.forward([grown[b]], { taps: 'all', allPositions: true });
          const n = step[b].length;
          const newLogits = rows(full.logits[0], vocab, before[b], n);
          if (n > 0) assert.ok(maxAbsDiff(result.logits[b], newLogits) < 1e-4, `logits, sequence ${b}`);
          for (let block = 0; block < layers; block++) {
            assert.ok(maxAbsDiff(result.taps.get(block)![b], rows(full.taps.get(block)![0], dModel, before[b], n)) < 1e-4, `block ${block}, sequence ${b}`);
          }
        }
      }
      await model.dispose();
    });

    test('next-token logits after each append equal the reference; a sequence that appends nothing keeps its own', async () => {
      const model = await load(m);
      const { vocab } = m.config;
      const batch = model.startSequences(3);
      const grown: number[][] = [[], [], []];
      for (const step of appendPlan(vocab)) {
        const result = await batch.append(step);
        step.forEach((ids, b) => grown[b].push(...ids));
        for (let b = 0; b < 3; b++) {
          if (grown[b].length === 0) {
            assert.equal(result.logits[b].length, 0);
            continue;
          }
          const ref = m.reference(grown[b]).logits;
          assert.ok(maxAbsDiff(result.logits[b], rows(ref, vocab, grown[b].length - 1, 1)) < 1e-4, `sequence ${b}`);
        }
      }
      await model.dispose();
    });

    test('interventions while appending equal the reference with the same deltas at every position', async () => {
      const model = await load(m);
      const { vocab, dModel } = m.config;
      const rules = { 1: dampDelta };
      const batch = model.startSequences(3);
      const grown: number[][] = [[], [], []];
      for (const step of appendPlan(vocab)) {
        const result = await batch.append(step, { taps: [2], interventions: runtimeInterventions(rules) });
        step.forEach((ids, b) => grown[b].push(...ids));
        for (let b = 0; b < 3; b++) {
          if (step[b].length === 0) continue;
          const ref = m.reference(grown[b], referenceDeltas(rules, dModel));
          assert.ok(maxAbsDiff(result.logits[b], rows(ref.logits, vocab, grown[b].length - 1, 1)) < 1e-4);
          assert.ok(maxAbsDiff(result.taps.get(2)![b], rows(ref.taps[2], dModel, grown[b].length - step[b].length, step[b].length)) < 1e-4);
        }
      }
      await model.dispose();
    });
  });
}

describe('a cached model that computes its own positions (no position_ids input)', () => {
  const m = gptModel({ kvCache: true, positions: 'computed' });

  test('equal appends match the reference', async () => {
    const model = await load(m);
    const { vocab } = m.config;
    const batch = model.startSequences(2);
    const grown: number[][] = [[], []];
    for (let step = 0; step < 3; step++) {
      const ids = [tokenIds(3, vocab, step), tokenIds(3, vocab, step + 10)];
      const result = await batch.append(ids);
      ids.forEach((s, b) => grown[b].push(...s));
      grown.forEach((s, b) => assert.ok(maxAbsDiff(result.logits[b], rows(m.reference(s).logits, vocab, s.length - 1, 1)) < 1e-4));
    }
    await model.dispose();
  });

  test('uneven appends are refused, naming the missing position_ids input', async () => {
    const model = await load(m);
    const batch = model.startSequences(2);
    await assert.rejects(batch.append([[1, 2, 3], [4]]), (err: unknown) => err instanceof ModelError && /position_ids/.test(err.message) && err.file.endsWith('model.onnx'));
    await model.dispose();
  });
});
