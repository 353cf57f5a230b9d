import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  averageRanks,
  bestLatents,
  correlate,
  maxCurves,
  prepareLatents,
  rankLatents,
  spearman,
} from '../../../src/core/analysis/correlate';
import { Rng } from '../../../src/core/random';
import { pearson } from '../../../src/core/stats';

/** Sparse, SAE-like activations: ReLU of shifted Gaussians, so most entries are 0 and ties abound. */
function sparseActivations(rng: Rng, n: number, width: number): Float32Array {
  const x = new Float32Array(n * width);
  for (let i = 0; i < x.length; i++) x[i] = Math.max(0, rng.normal() - 1);
  return x;
}

function column(x: Float32Array, width: number, j: number): number[] {
  return Array.from({ length: x.length / width }, (_, i) => x[i * width + j]);
}

test('Pearson r of every latent with every target agrees with stats.pearson column by column', () => {
  const rng = Rng.fromSeed(1);
  const n = 300;
  const width = 40;
  const x = sparseActivations(rng, n, width);
  // A dead latent, one constant but nonzero, and one with a large offset (cancellation would show there).
  for (let i = 0; i < n; i++) {
    x[i * width + 3] = 0;
    x[i * width + 4] = 2.5;
    x[i * width + 5] = 1000 + rng.normal();
  }
  const targets = {
    names: ['a', 'b', 'flat'],
    columns: [
      Array.from({ length: n }, (_, i) => x[i * width + 7] + rng.normal()),
      Array.from({ length: n }, () => rng.normal()),
      new Array<number>(n).fill(3),
    ],
  };
  const m = correlate(prepareLatents(x, width), targets);
  assert.equal(m.r.length, 3 * width);
  for (let t = 0; t < 2; t++) {
    for (let j = 0; j < width; j++) {
      const r = m.r[t * width + j];
      if (j === 3 || j === 4) assert.ok(Number.isNaN(r), `constant latent ${j} must have no r`);
      else assert.ok(Math.abs(r - pearson(column(x, width, j), targets.columns[t])) < 1e-10, `target ${t} latent ${j}`);
    }
  }
  for (let j = 0; j < width; j++) assert.ok(Number.isNaN(m.r[2 * width + j]), 'a constant target has no r');
});

test('average ranks and Spearman with ties, by hand', () => {
  assert.deepEqual(Array.from(averageRanks([0, 0, 1, 2, 2])), [1.5, 1.5, 3, 4.5, 4.5]);
  assert.deepEqual(Array.from(averageRanks([3, -1, 3, 0])), [3.5, 1, 3.5, 2]);
  // ranks x = [1.5, 1.5, 3, 4.5, 4.5], y = [1, 3, 2, 5, 4]: sxy = 7.5, sxx = 9, syy = 10.
  assert.ok(Math.abs(spearman([0, 0, 1, 2, 2], [10, 30, 20, 50, 40]) - 7.5 / Math.sqrt(90)) < 1e-12);
  assert.ok(Number.isNaN(spearman([1, 1, 1], [1, 2, 3])));
});

test('the sparse Spearman transform gives each column\u2019s Spearman r, negatives, zeros and ties included', () => {
  const rng = Rng.fromSeed(2);
  const n = 200;
  const width = 12;
  const x = new Float32Array(n * width);
  for (let i = 0; i < x.length; i++) {
    const u = rng.uniform();
    // Zeros, a few negatives, and values on a coarse grid so that nonzero ties occur too.
    x[i] = u < 0.6 ? 0 : Math.round((rng.normal() + (u < 0.7 ? -2 : 1)) * 2) / 2;
  }
  for (let i = 0; i < n; i++) x[i * width + 11] = 7;
  const y = Array.from({ length: n }, (_, i) => Math.round(x[i * width] + rng.normal()));
  const m = correlate(prepareLatents(x, width), { names: ['y'], columns: [y] }, 'spearman');
  for (let j = 0; j < width - 1; j++) assert.ok(Math.abs(m.r[j] - spearman(column(x, width, j), y)) < 1e-10, `latent ${j}`);
  assert.ok(Number.isNaN(m.r[width - 1]));
  // The transform keeps the zeros where they were.
  const ranked = rankLatents(prepareLatents(x, width));
  assert.equal(ranked.index.length, prepareLatents(x, width).index.length);
});

test('the best latent is the one with the largest |r|, its sign kept; max curves follow block order', () => {
  const rng = Rng.fromSeed(3);
  const n = 400;
  const width = 30;
  const x = sparseActivations(rng, n, width);
  const y = Array.from({ length: n }, (_, i) => -2 * x[i * width + 17] + 0.3 * rng.normal());
  const best = bestLatents(correlate(prepareLatents(x, width), { names: ['y', 'none'], columns: [y, new Array<number>(n).fill(0)] }));
  assert.equal(best[0].latent, 17);
  assert.ok(best[0].r < -0.8, `r ${best[0].r}`);
  assert.deepEqual({ ...best[1] }, { target: 'none', latent: -1, r: NaN });
  const curves = maxCurves([
    { block: 2, best: [{ target: 'y', latent: 5, r: 0.4 }] },
    { block: 0, best: [{ target: 'y', latent: 1, r: -0.2 }] },
    { block: 1, best: [{ target: 'y', latent: -1, r: NaN }] },
  ]);
  assert.deepEqual(curves, [{ target: 'y', points: [{ block: 0, latent: 1, r: -0.2 }, { block: 2, latent: 5, r: 0.4 }] }]);
});

test('activations must be whole, finite rows', () => {
  assert.throws(() => prepareLatents(new Float32Array(5), 2), /whole rows/);
  assert.throws(() => prepareLatents(Float32Array.from([0, NaN]), 2), /activation 1 of row 0 is NaN/);
});
