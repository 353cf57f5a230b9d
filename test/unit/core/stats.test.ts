import { test } from 'node:test';
import assert from 'node:assert/strict';
import { estimate, normalQuantile, pearson, tQuantile } from '../../../src/core/stats';

test('quantiles match published tables', () => {
  // Normal and Student t tables (e.g. Abramowitz & Stegun, tables 26.1 and 26.10).
  assert.ok(Math.abs(normalQuantile(0.975) - 1.959964) < 1e-6);
  assert.ok(Math.abs(normalQuantile(0.001) + 3.090232) < 1e-6);
  const table: [number, number][] = [
    [3, 3.182446],
    [5, 2.570582],
    [10, 2.228139],
    [29, 2.04523],
    [99, 1.984217],
  ];
  for (const [df, t] of table) assert.ok(Math.abs(tQuantile(0.975, df) - t) / t < 2e-3, `df ${df}: ${tQuantile(0.975, df)} vs ${t}`);
});

test('a 95% interval covers the true mean about 95% of the time', () => {
  // Deterministic uniform draws from a linear congruential sequence, mean 0.5.
  let state = 12345;
  const draw = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  let covered = 0;
  const trials = 2000;
  for (let t = 0; t < trials; t++) {
    const e = estimate(Array.from({ length: 10 }, draw));
    if (e.ci95[0] <= 0.5 && 0.5 <= e.ci95[1]) covered++;
  }
  assert.ok(Math.abs(covered / trials - 0.95) < 0.02, `coverage ${covered / trials}`);
});

test('pearson correlation of exact linear relations is +-1', () => {
  const x = [1, 2, 3, 4, 5];
  assert.ok(Math.abs(pearson(x, x.map((v) => 3 * v - 1)) - 1) < 1e-12);
  assert.ok(Math.abs(pearson(x, x.map((v) => -v)) + 1) < 1e-12);
  // Hand-computed: x = [1,2,3], y = [1,3,2]: sxy = 1, sxx = syy = 2, r = 0.5.
  assert.ok(Math.abs(pearson([1, 2, 3], [1, 3, 2]) - 0.5) < 1e-12);
});
