import { test } from 'node:test';
import assert from 'node:assert/strict';
import { choleskySolve, ridgeDirection, ridgeProbe, ridgeProbeByKind, ridgeProbes } from '../../../src/core/analysis/probe';
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

test('a probe per kind of row follows a target that is a different linear map at each kind, where one map over all rows cannot', () => {
  const rng = Rng.fromSeed(5);
  const n = 2000;
  const d = 12;
  const x = new Float32Array(n * d);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  const kinds = Array.from({ length: n }, (_, i) => i % 2);
  // Kind 0 reads the target off the first half of the features, kind 1 off the second half.
  const y = Array.from({ length: n }, (_, i) => {
    let s = 0;
    for (let j = 0; j < d / 2; j++) s += x[i * d + j + (kinds[i] === 0 ? 0 : d / 2)];
    return s;
  });
  const groups = Array.from({ length: n }, (_, i) => Math.floor(i / 40));
  const byKind = ridgeProbeByKind(x, d, y, groups, kinds);
  assert.ok(byKind.r > 0.99, `per kind r ${byKind.r}`);
  assert.deepEqual(byKind.byKind.map((k) => [k.kind, k.rows]), [[0, n / 2], [1, n / 2]]);
  for (const k of byKind.byKind) assert.ok(k.r > 0.99);
  // One map must split its weight between the two halves: each kind's target then correlates with it at 1/sqrt(2).
  const single = ridgeProbe(x, d, y, groups);
  assert.ok(Math.abs(single.r - Math.SQRT1_2) < 0.05, `single map r ${single.r}`);
  // Each kind's predictions are its own probe's, fitted on its rows alone.
  const rows0 = kinds.flatMap((k, i) => (k === 0 ? [i] : []));
  const x0 = new Float32Array(rows0.length * d);
  rows0.forEach((i, k) => x0.set(x.subarray(i * d, (i + 1) * d), k * d));
  const alone = ridgeProbe(x0, d, rows0.map((i) => y[i]), rows0.map((i) => groups[i]));
  rows0.forEach((i, k) => assert.equal(byKind.predictions[i], alone.predictions[k]));
  assert.throws(() => ridgeProbeByKind(x, d, y, groups, kinds.slice(1)), /1999 kinds for 2000 rows/);
});

test('probes of several targets give each target what a probe of it alone gives, and each fit is the ridge of the rows centred one by one', () => {
  const rng = Rng.fromSeed(11);
  const n = 600;
  const d = 6;
  const x = new Float32Array(n * d);
  // Features of different means and scales, and one that never varies.
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j] = j === 5 ? 2.5 : 3 * j + (j + 1) * rng.normal();
  const groups = Array.from({ length: n }, (_, i) => Math.floor(i / 20));
  const ys = [0, 1, 2].map((t) => Array.from({ length: n }, (_, i) => x[i * d + t] - 0.5 * x[i * d + 3] + rng.normal()));
  const together = ridgeProbes(x, d, ys, groups);
  ys.forEach((y, t) => {
    const alone = ridgeProbe(x, d, y, groups);
    assert.deepEqual(together[t].lambdas, alone.lambdas);
    for (let i = 0; i < n; i++) assert.ok(Math.abs(together[t].predictions[i] - alone.predictions[i]) < 1e-9);
  });
  // With one penalty there is nothing to choose: fold 0's predictions are the ridge fitted on the other folds.
  const lambda = 10;
  const fixed = ridgeProbe(x, d, ys[0], groups, { lambdas: [lambda] });
  const foldOfGroup = (g: number) => g % 5; // groups appear in order, dealt round robin
  const train = Array.from({ length: n }, (_, i) => i).filter((i) => foldOfGroup(groups[i]) !== 0);
  const mean = Array.from({ length: d }, (_, j) => train.reduce((s, i) => s + x[i * d + j], 0) / train.length);
  const scale = mean.map((m, j) => Math.sqrt(train.reduce((s, i) => s + (x[i * d + j] - m) ** 2, 0) / train.length) || 1);
  const z = (i: number, j: number) => (x[i * d + j] - mean[j]) / scale[j];
  const yMean = train.reduce((s, i) => s + ys[0][i], 0) / train.length;
  const a = new Float64Array(d * d);
  const b = new Float64Array(d);
  for (const i of train) {
    for (let j = 0; j < d; j++) {
      b[j] += z(i, j) * (ys[0][i] - yMean);
      for (let k = 0; k < d; k++) a[j * d + k] += z(i, j) * z(i, k);
    }
  }
  for (let j = 0; j < d; j++) a[j * d + j] += lambda;
  const w = choleskySolve(a, b, d);
  for (let i = 0; i < n; i++) {
    if (foldOfGroup(groups[i]) !== 0) continue;
    const direct = yMean + w.reduce((s, wj, j) => s + wj * z(i, j), 0);
    assert.ok(Math.abs(fixed.predictions[i] - direct) < 1e-8, `row ${i}: ${fixed.predictions[i]} against ${direct}`);
  }
  // The same fit as a direction of the raw features: intercept + (x - center) . weights.
  const xTrain = new Float32Array(train.length * d);
  train.forEach((i, k) => xTrain.set(x.subarray(i * d, (i + 1) * d), k * d));
  const direction = ridgeDirection(xTrain, d, train.map((i) => ys[0][i]), lambda);
  for (let i = 0; i < n; i++) {
    if (foldOfGroup(groups[i]) !== 0) continue;
    const read = direction.intercept + direction.weights.reduce((s, wj, j) => s + wj * (x[i * d + j] - direction.center[j]), 0);
    assert.ok(Math.abs(read - fixed.predictions[i]) < 1e-8, `row ${i}`);
  }
  assert.throws(() => ridgeProbes(x, d, [ys[0].slice(1)], groups), /599 target values for 600 rows/);
});
