import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TargetTable } from '../../../src/core/analysis/targets';
import { describeLesionSets, lesionSets, type BlockStudy } from '../../../src/core/reproduce/blocks';
import { Rng } from '../../../src/core/random';

/**
 * Four latents over 400 rows: 0 follows the target; 1 fires on two rows and is
 * nearly uncorrelated; 2 fires on every row, uncorrelated, heavier, with a decoder row
 * as long as latent 0's; 3 fires as often as 2 but is weakly correlated.
 */
function fixture(): { study: BlockStudy; targets: TargetTable } {
  const n = 400;
  const width = 4;
  const dIn = 2;
  const rng = Rng.fromSeed(5);
  const target = Float64Array.from({ length: n }, () => rng.uniform() - 0.5);
  const acts = new Float32Array(n * width);
  for (let i = 0; i < n; i++) {
    acts[i * width] = 1 + target[i];
    acts[i * width + 1] = i === 10 || i === 200 ? 0.5 : 0;
    acts[i * width + 2] = 1.5 + (rng.uniform() - 0.5);
    acts[i * width + 3] = 1 + 0.3 * target[i] + (rng.uniform() - 0.5);
  }
  const W_dec = Float32Array.from([1, 0, 0, 1, 0.6, 0.8, 0.8, 0.6]);
  const study = { block: 0, acts, sae: { dSae: width, dIn, params: { W_dec } } } as unknown as BlockStudy;
  const targets: TargetTable = { names: ['tdError'], columns: [target], groups: new Int32Array(n), steps: new Int32Array(n), rows: null };
  return { study, targets };
}

test('the control latents are the least correlated of those as heavy as the lesioned ones, not latents that barely fire', () => {
  const { study, targets } = fixture();
  const { lesioned, control } = lesionSets(study, targets, 'tdError', 1);
  assert.deepEqual(lesioned.map((l) => l.latent), [0]);
  // Latent 1 has the smallest |r| but carries almost nothing; latent 2 is as heavy as latent 0.
  assert.deepEqual(control.map((l) => l.latent), [2]);
  assert.ok(Math.abs(control[0].r) < 0.2 && lesioned[0].r > 0.99);
  // weight = mean activation x decoder row norm: latent 0's mean is 1 (the target has mean about 0), its row norm 1.
  assert.ok(Math.abs(lesioned[0].weight - 1) < 0.05, `${lesioned[0].weight}`);
});

test('where too few latents are as heavy, the heaviest of the rest fill the control set', () => {
  const { study, targets } = fixture();
  const { lesioned, control } = lesionSets(study, targets, 'tdError', 2);
  assert.deepEqual(lesioned.map((l) => l.latent), [0, 3]);
  assert.equal(control.length, 2);
  assert.deepEqual(new Set(control.map((l) => l.latent)), new Set([1, 2]));
});

test('the progress log names each lesioned and control latent with its r and weight', () => {
  const { study, targets } = fixture();
  const sets = lesionSets(study, targets, 'tdError', 1);
  const line = describeLesionSets(sets);
  assert.match(line, new RegExp(`^lesioned 0 \\(r ${sets.lesioned[0].r.toFixed(3)}, weight ${sets.lesioned[0].weight.toPrecision(3)}\\); control 2 \\(r `));
});
