import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gaussianSmooth, leastSquares, thin } from '../../../src/core/plots';

function assertClose(actual: readonly number[], expected: readonly number[], tol = 1e-12): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]) <= tol, `index ${i}: ${a} vs ${expected[i]}`));
}

test('gaussianSmooth with sigma 0.5 matches the hand computation, renormalised at the edges', () => {
  // Weights exp(-d^2 / (2 * 0.25)) = exp(-2 d^2): 1, e^-2, e^-8 at distances 0, 1, 2.
  const [w1, w2] = [Math.exp(-2), Math.exp(-8)];
  assertClose(gaussianSmooth([1, 0, 0], 0.5), [1 / (1 + w1 + w2), w1 / (1 + 2 * w1), w2 / (1 + w1 + w2)]);
  // The same numbers, worked independently to 10 digits.
  assertClose(gaussianSmooth([1, 0, 0], 0.5), [0.8805369018, 0.1065069789, 0.000295387223], 1e-10);
});

test('gaussianSmooth with sigma 1 spreads a spike over its neighbours', () => {
  const w = [1, Math.exp(-0.5), Math.exp(-2), Math.exp(-4.5)];
  const expected = [
    (3 * w[2]) / (w[0] + w[1] + w[2] + w[3]),
    (3 * w[1]) / (w[1] + w[0] + w[1] + w[2]),
    (3 * w[0]) / (w[2] + w[1] + w[0] + w[1]),
    (3 * w[1]) / (w[3] + w[2] + w[1] + w[0]),
  ];
  assertClose(gaussianSmooth([0, 0, 3, 0], 1), expected);
  assertClose(gaussianSmooth([0, 0, 3, 0], 1), [0.2316096144, 0.7748231185, 1.2774673565, 1.0380022772], 1e-9);
});

test('gaussianSmooth keeps constants, copies at sigma 0, and smooths in position units', () => {
  assertClose(gaussianSmooth([0.4, 0.4, 0.4, 0.4, 0.4], 2), [0.4, 0.4, 0.4, 0.4, 0.4], 1e-15);
  const values = [0.1, 0.5, 0.2];
  const copy = gaussianSmooth(values, 0);
  assert.deepEqual(copy, values);
  assert.notEqual(copy, values);
  // Blocks 0, 1 and 10: the far block neither gives nor takes weight (e^-40.5 and less).
  const uneven = gaussianSmooth([1, 0, 5], 1, [0, 1, 10]);
  const w1 = Math.exp(-0.5);
  assertClose(uneven, [1 / (1 + w1), w1 / (1 + w1), 5], 1e-12);
});

test('gaussianSmooth rejects a bad sigma and mismatched positions', () => {
  assert.throws(() => gaussianSmooth([1, 2], -1), /sigma must be a finite number >= 0, got -1/);
  assert.throws(() => gaussianSmooth([1, 2], NaN), /sigma must be a finite number >= 0, got NaN/);
  assert.throws(() => gaussianSmooth([1, 2], 1, [0]), /2 values but 1 positions/);
});

test('thin keeps evenly spaced points, the first included, and leaves short inputs alone', () => {
  const xs = Array.from({ length: 10 }, (_, i) => i);
  assert.deepEqual(thin(xs, 4), [0, 2, 5, 7]);
  assert.deepEqual(thin(xs, 10), xs);
  assert.equal(thin(Array.from({ length: 5000 }, (_, i) => i), 2000).length, 2000);
});

test('leastSquares recovers an exact line and the closed form of a small sample', () => {
  const exact = leastSquares([-1, 0, 2, 5].map((t) => ({ target: t, activation: 1 - 2 * t })));
  assert.ok(exact !== undefined);
  assert.ok(Math.abs(exact.slope + 2) < 1e-12 && Math.abs(exact.intercept - 1) < 1e-12);
  // (0,0), (1,1), (2,1): slope = Sxy / Sxx = 1 / 2, intercept = 2/3 - 1/2 * 1 = 1/6.
  const small = leastSquares([{ target: 0, activation: 0 }, { target: 1, activation: 1 }, { target: 2, activation: 1 }]);
  assert.ok(small !== undefined);
  assert.ok(Math.abs(small.slope - 0.5) < 1e-12 && Math.abs(small.intercept - 1 / 6) < 1e-12);
  assert.equal(leastSquares([{ target: 3, activation: 0 }, { target: 3, activation: 1 }]), undefined);
});
