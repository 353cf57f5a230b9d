import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prepareLatents, standardiseRows } from '../../../src/core/analysis/correlate';
import { permutationNull, permutationP, permuteWithinGroups } from '../../../src/core/analysis/permutation';
import { scanLatents } from '../../../src/core/analysis/scan';
import type { TargetTable } from '../../../src/core/analysis/targets';
import { Rng } from '../../../src/core/random';
import { pearson } from '../../../src/core/stats';

function gaussian(rng: Rng, n: number, width: number): Float32Array {
  return Float32Array.from({ length: n * width }, () => rng.normal());
}

function table(names: string[], columns: number[][], groups: number[]): TargetTable {
  return {
    names,
    columns: columns.map((c) => Float64Array.from(c)),
    groups: Int32Array.from(groups),
    steps: Int32Array.from(groups.map((_, i) => i)),
    rows: null,
  };
}

test('permutations stay within groups: shuffled, or rotated in order of appearance', () => {
  const groups = [0, 1, 0, 2, 1, 0, 2, 1, 0];
  const rng = Rng.fromSeed(4);
  const perm = permuteWithinGroups(groups, rng, 'shuffle');
  assert.deepEqual([...perm].sort(), groups.map((_, i) => i));
  perm.forEach((to, from) => assert.equal(groups[to], groups[from]));
  const rotated = permuteWithinGroups(groups, rng, 'rotate');
  for (const g of [0, 1, 2]) {
    const rows = groups.flatMap((x, i) => (x === g ? [i] : []));
    const offset = rows.indexOf(rotated[rows[0]]);
    rows.forEach((row, k) => assert.equal(rotated[row], rows[(k + offset) % rows.length]));
  }
});

test('the null maxima agree with a brute-force recomputation over the same permutations', () => {
  const rng = Rng.fromSeed(5);
  const n = 60;
  const width = 15;
  const x = gaussian(rng, n, width);
  for (let i = 0; i < n; i++) x[i * width + 2] = 0;
  const groups = Array.from({ length: n }, (_, i) => i % 4);
  const ys = [Array.from({ length: n }, () => rng.normal()), Array.from({ length: n }, (_, i) => i % 7)];
  const options = { permutations: 25, seed: 11, scheme: 'shuffle' as const };
  const nullMax = permutationNull(prepareLatents(x, width), standardiseRows(ys, n), groups, options);
  const replay = Rng.fromSeed(options.seed);
  for (let b = 0; b < options.permutations; b++) {
    const perm = permuteWithinGroups(groups, replay, 'shuffle');
    ys.forEach((y, t) => {
      const permuted = Array.from(perm, (k) => y[k]);
      let max = 0;
      for (let j = 0; j < width; j++) {
        if (j === 2) continue;
        max = Math.max(max, Math.abs(pearson(Array.from({ length: n }, (_, i) => x[i * width + j]), permuted)));
      }
      assert.ok(Math.abs(nullMax[t][b] - max) < 1e-10, `target ${t}, permutation ${b}`);
    });
  }
});

test('the max-statistic p corrects for the number of latents: the best of 500 noise latents is not significant', () => {
  const rng = Rng.fromSeed(6);
  const n = 100;
  const width = 500;
  const x = gaussian(rng, n, width);
  const groups = Array.from({ length: n }, (_, i) => Math.floor(i / 10));
  const noise = Array.from({ length: n }, () => rng.normal());
  const planted = Array.from({ length: n }, (_, i) => x[i * width + 42] + 0.5 * rng.normal());
  const scan = scanLatents(x, width, table(['noise', 'planted'], [noise, planted], groups), { permutations: 99, seed: 1 });
  const [best, signal] = scan.best;
  // Alone, |r| above tanh(1.96 / sqrt(n - 3)) ~ 0.2 would pass a 5% test; among 500 latents it is what chance gives.
  assert.ok(Math.abs(best.r) > 0.25, `best noise |r| ${best.r}`);
  assert.ok(best.p! > 0.05, `p ${best.p}`);
  assert.equal(signal.latent, 42);
  assert.equal(signal.p, 1 / 100);
});

test('p is (1 + #{null >= observed}) / (1 + permutations), null when there is nothing to compare', () => {
  assert.equal(permutationP(0.5, Float64Array.from([0.1, 0.5, 0.7, 0.2])), 3 / 5);
  assert.equal(permutationP(-0.6, Float64Array.from([0.1, 0.5, 0.7, 0.2])), 2 / 5);
  assert.equal(permutationP(0.5, new Float64Array(0)), null);
  assert.equal(permutationP(NaN, Float64Array.from([0.1])), null);
});

test('a scan reports each target\u2019s best latent with its Spearman r, p and activation statistics', () => {
  const rng = Rng.fromSeed(7);
  const n = 240;
  const width = 20;
  const x = Float32Array.from({ length: n * width }, () => Math.max(0, rng.normal() - 0.5));
  for (let i = 0; i < n; i++) x[i * width + 19] = 0;
  const groups = Array.from({ length: n }, (_, i) => Math.floor(i / 24));
  const y = Array.from({ length: n }, (_, i) => x[i * width + 8] + 0.2 * rng.normal());
  const scan = scanLatents(x, width, table(['y', 'flat'], [y, new Array<number>(n).fill(1)], groups), { permutations: 0 });
  assert.equal(scan.constant, 1);
  const [found, flat] = scan.best;
  assert.equal(found.latent, 8);
  assert.equal(found.p, null);
  assert.ok(found.spearman > 0.5 && Math.abs(found.spearman - found.r) < 0.3);
  const column = Array.from({ length: n }, (_, i) => x[i * width + 8]);
  const mean = column.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(column.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
  assert.ok(Math.abs(found.stats!.mean - mean) < 1e-9 && Math.abs(found.stats!.sd - sd) < 1e-9);
  assert.equal(found.stats!.fireRate, column.filter((v) => v > 0).length / n);
  assert.equal(found.stats!.max, Math.max(...column));
  assert.deepEqual({ ...flat }, { target: 'flat', latent: -1, r: NaN, spearman: NaN, p: null, stats: null });
  assert.throws(() => scanLatents(x, width, table(['y'], [y.slice(1)], groups.slice(1))), /240 activation rows for 239 target rows/);
});
