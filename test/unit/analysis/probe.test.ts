import { test } from 'node:test';
import assert from 'node:assert/strict';
import { choleskySolve, ridgeProbe } from '../../../src/core/analysis/probe';
import { Rng } from '../../../src/core/random';

test('cholesky solves a hand-checked system', () => {
  // [[4, 2], [2, 3]] w = [2, 1]  =>  w = [0.5, 0] (4*0.5 + 2*0 = 2, 2*0.5 + 3*0 = 1).
  const w = choleskySolve(Float64Array.from([4, 2, 2, 3]), Float64Array.from([2, 1]), 2);
  assert.ok(Math.abs(w[0] - 0.5) < 1e-12 && Math.abs(w[1]) < 1e-12);
});

test('a probe finds a linear target with the correlation its noise allows, and nothing in noise', () => {
  const rng = Rng.fromSeed(3);
  const n = 1500;
  const d = 20;
  const x = new Float32Array(n * d);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  const w = Array.from({ length: d }, () => rng.normal());
  const signal = Array.from({ length: n }, (_, i) => w.reduce((s, wj, j) => s + wj * x[i * d + j], 0));
  const sd = Math.sqrt(w.reduce((s, v) => s + v * v, 0));
  // Noise with the signal's variance: the best possible r is 1/sqrt(2) = 0.707.
  const y = signal.map((s) => s + sd * rng.normal());
  const groups = Array.from({ length: n }, (_, i) => Math.floor(i / 30));
  const found = ridgeProbe(x, d, y, groups);
  assert.ok(Math.abs(found.r - Math.SQRT1_2) < 0.04, `r ${found.r}`);
  const noise = Array.from({ length: n }, () => rng.normal());
  assert.ok(Math.abs(ridgeProbe(x, d, noise, groups).r) < 0.1);
});
