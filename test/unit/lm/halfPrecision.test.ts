import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadModel } from '../../../src/core/lm/runtime';
import { tempDir, writeModelFolder } from '../../fixtures/lm/folders';
import { buildHalfModel, HALF, halfReference, halfWeights } from '../../fixtures/lm/half';
import { maxAbsDiff } from '../../fixtures/lm/models';

describe('a float16 graph', () => {
  const dir = tempDir();
  after(() => dir.remove());

  test('taps come back as float32, float16 logits are decoded, and a float32 delta reaches the stream', async () => {
    const weights = halfWeights(3);
    const model = await loadModel(writeModelFolder(dir.path, buildHalfModel(weights)), { cacheDir: join(dir.path, '.cache'), provider: 'cpu' });
    assert.equal(model.info.residualType, 'float16');
    assert.equal(model.info.blocks.length, 1);
    const ids = [3, 0, 11, 5];
    const plain = await model.forward([ids], { taps: [0], allPositions: true });
    const ref = halfReference(weights, ids);
    // float16 arithmetic: about three significant digits
    assert.ok(plain.taps.get(0)![0] instanceof Float32Array);
    assert.ok(maxAbsDiff(plain.taps.get(0)![0], ref.taps) < 2e-2);
    assert.ok(maxAbsDiff(plain.logits[0], ref.logits) < 5e-2);

    const shiftOf = (feature: number) => (feature % 2 === 0 ? 1 : -0.5);
    const shift = (row: ArrayLike<number>) => Array.from(row, (_, j) => shiftOf(j));
    const shifted = await model.forward([ids], {
      taps: [0],
      allPositions: true,
      interventions: { 0: (r) => Float32Array.from({ length: r.data.length }, (_, k) => shiftOf(k % HALF.d)) },
    });
    const refShifted = halfReference(weights, ids, shift);
    assert.ok(maxAbsDiff(shifted.taps.get(0)![0], refShifted.taps) < 2e-2);
    assert.ok(maxAbsDiff(shifted.logits[0], refShifted.logits) < 5e-2);
    assert.ok(maxAbsDiff(shifted.logits[0], plain.logits[0]) > 0.5);
    await model.dispose();
  });
});
