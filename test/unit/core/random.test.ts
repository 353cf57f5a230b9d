import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../../src/core/random';

test('the same seed gives the same stream, a saved state resumes it', () => {
  const a = Rng.fromSeed(42);
  const b = Rng.fromSeed(42);
  const first = Array.from({ length: 5 }, () => a.uniform());
  assert.deepEqual(first, Array.from({ length: 5 }, () => b.uniform()));
  const saved = JSON.parse(JSON.stringify(a.toJSON()));
  const resumed = Rng.fromState(saved);
  assert.deepEqual(
    Array.from({ length: 5 }, () => a.normal()),
    Array.from({ length: 5 }, () => resumed.normal()),
  );
  assert.notDeepEqual(first, Array.from({ length: 5 }, () => Rng.fromSeed(43).uniform()));
});

test('uniform, normal and categorical draws have the right moments', () => {
  const rng = Rng.fromSeed(7);
  const n = 200_000;
  let sum = 0;
  let sumSq = 0;
  let uSum = 0;
  const counts = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    const z = rng.normal();
    sum += z;
    sumSq += z * z;
    uSum += rng.uniform();
    counts[rng.categorical([1, 2, 7])]++;
  }
  // Standard errors: mean 1/sqrt(n) ~ 0.0022, variance sqrt(2/n) ~ 0.0032.
  assert.ok(Math.abs(sum / n) < 0.01);
  assert.ok(Math.abs(sumSq / n - 1) < 0.015);
  assert.ok(Math.abs(uSum / n - 0.5) < 0.005);
  assert.ok(Math.abs(counts[2] / n - 0.7) < 0.005);
  assert.ok(Math.abs(counts[0] / n - 0.1) < 0.005);
});

test('int stays in its half-open range and covers it', () => {
  const rng = Rng.fromSeed(1);
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    const k = rng.int(3, 7);
    assert.ok(k >= 3 && k < 7);
    seen.add(k);
  }
  assert.deepEqual([...seen].sort(), [3, 4, 5, 6]);
  assert.throws(() => rng.int(2, 2), /empty integer range/);
  assert.throws(() => Rng.fromSeed(1.5), /seed must be an integer/);
});
