import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ridgeProbe } from '../../../src/core/analysis/probe';
import { sparseProbe } from '../../../src/core/analysis/sparseProbe';
import { Rng } from '../../../src/core/random';
import { pearson } from '../../../src/core/stats';

/** Sparse non-negative activations, as an SAE's: each latent fires on about a third of the rows. */
function latents(rows: number, width: number, seed: number): Float32Array {
  const rng = Rng.fromSeed(seed);
  return Float32Array.from({ length: rows * width }, () => Math.max(0, rng.normal() - 0.4));
}

const column = (acts: Float32Array, width: number, j: number) => Array.from({ length: acts.length / width }, (_, i) => acts[i * width + j]);

test('a target spread evenly over four latents takes all four to read; the pursuit finds them', () => {
  const [rows, width] = [600, 40];
  const acts = latents(rows, width, 1);
  const parts = [3, 7, 11, 20];
  const rng = Rng.fromSeed(2);
  const y = Array.from({ length: rows }, (_, i) => parts.reduce((s, j) => s + acts[i * width + j], 0) + 0.05 * rng.normal());
  const groups = Array.from({ length: rows }, (_, i) => Math.floor(i / 20));
  const { points, chosen } = sparseProbe(acts, width, y, groups, { ks: [1, 2, 4, 8] });
  assert.deepEqual([...chosen.slice(0, 4)].sort((a, b) => a - b), parts);
  // The first latent chosen is the one most correlated with the target (a second computation).
  const rs = Array.from({ length: width }, (_, j) => Math.abs(pearson(column(acts, width, j), y)));
  assert.equal(chosen[0], rs.indexOf(Math.max(...rs)));
  const r = Object.fromEntries(points.map((p) => [p.k, p.r]));
  // One of four equal, independent parts explains about a quarter of the variance: r near 0.5.
  assert.ok(r[1] > 0.4 && r[1] < 0.65, `k = 1: ${r[1]}`);
  assert.ok(r[2] > r[1] + 0.1, `k = 2: ${r[2]}`);
  assert.ok(r[4] > 0.99, `k = 4: ${r[4]}`);
  assert.ok(Math.abs(r[8] - r[4]) < 0.005, `k = 8 adds nothing: ${r[8]} vs ${r[4]}`);
});

test('with every latent chosen, the sparse probe is least squares on all of them: the ridge probe with no penalty', () => {
  const [rows, width] = [300, 6];
  const acts = latents(rows, width, 3);
  const rng = Rng.fromSeed(4);
  const y = Array.from({ length: rows }, (_, i) => acts[i * width] - 0.5 * acts[i * width + 4] + rng.normal());
  const groups = Array.from({ length: rows }, (_, i) => i % 15);
  const sparse = sparseProbe(acts, width, y, groups, { ks: [width], ridge: 0 });
  const ridge = ridgeProbe(acts, width, y, groups, { lambdas: [1e-9] });
  assert.ok(Math.abs(sparse.points[0].r - ridge.r) < 1e-6, `${sparse.points[0].r} vs ${ridge.r}`);
});

test('a constant latent is never chosen, and bad ks or shapes are refused', () => {
  const [rows, width] = [200, 5];
  const acts = latents(rows, width, 5);
  for (let i = 0; i < rows; i++) acts[i * width + 2] = 0;
  const y = Array.from({ length: rows }, (_, i) => acts[i * width + 1] + acts[i * width + 3]);
  const groups = Array.from({ length: rows }, (_, i) => i % 10);
  const { chosen } = sparseProbe(acts, width, y, groups, { ks: [1, 5] });
  assert.equal(chosen.length, 4);
  assert.ok(!chosen.includes(2));
  assert.throws(() => sparseProbe(acts, width, y, groups, { ks: [2, 1] }), /ks must be ascending positive integers, got 2, 1/);
  assert.throws(() => sparseProbe(acts, width + 1, y, groups), /1000 activations are not 200 rows of 6/);
});

test('a latent that fires on a few rows is not chosen, however well it matches their residuals', () => {
  const [rows, width] = [400, 8];
  const acts = latents(rows, width, 6);
  const rng = Rng.fromSeed(7);
  const y = Array.from({ length: rows }, (_, i) => acts[i * width + 1] + 0.3 * rng.normal());
  // Two rows far off the line, and a latent active on those two rows alone.
  for (let i = 0; i < rows; i++) acts[i * width + 5] = 0;
  for (const i of [17, 230]) {
    y[i] += 40;
    acts[i * width + 5] = 40;
  }
  const groups = Array.from({ length: rows }, (_, i) => i % 20);
  assert.ok(!sparseProbe(acts, width, y, groups, { ks: [1, 2, 3] }).chosen.includes(5));
  // Without the floor it is among the first two chosen: it matches the largest residuals exactly.
  assert.ok(sparseProbe(acts, width, y, groups, { ks: [1, 2, 3], minActive: 0 }).chosen.slice(0, 2).includes(5));
});
