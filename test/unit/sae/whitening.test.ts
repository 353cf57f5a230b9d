import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../../src/core/random';
import { evaluateSae } from '../../../src/core/sae/evaluate';
import type { Sae } from '../../../src/core/sae/sae';
import { SaeSession } from '../../../src/core/sae/session';
import { memorySource } from '../../../src/core/sae/source';
import { trainSae } from '../../../src/core/sae/train';
import { fitWhitening, foldWhitening, symmetricEigen, whiten, type Whitening } from '../../../src/core/sae/whitening';
import { sparseFeatureData } from './synthetic';

/** A random orthogonal matrix (Gram-Schmidt on Gaussian columns), row-major. */
function orthogonal(d: number, rng: Rng): Float64Array {
  const q = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    const v = Float64Array.from({ length: d }, () => rng.normal());
    for (let m = 0; m < k; m++) {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += v[i] * q[i * d + m];
      for (let i = 0; i < d; i++) v[i] -= dot * q[i * d + m];
    }
    const norm = Math.hypot(...v);
    for (let i = 0; i < d; i++) q[i * d + k] = v[i] / norm;
  }
  return q;
}

/** Rows whose spread differs by a factor of 100 between directions (10^4 in variance, as in the default model's residual stream), and whose coordinates are mixed. */
function anisotropicRows(n: number, d: number, seed: number): Float32Array {
  const rng = Rng.fromSeed(seed);
  const q = orthogonal(d, rng);
  const x = new Float32Array(n * d);
  for (let r = 0; r < n; r++) {
    const u = Array.from({ length: d }, (_, j) => rng.normal() * 10 ** (1 - (2 * j) / (d - 1)));
    for (let i = 0; i < d; i++) {
      let sum = 3 + i * 0.1;
      for (let j = 0; j < d; j++) sum += q[i * d + j] * u[j];
      x[r * d + i] = sum;
    }
  }
  return x;
}

function covariance(x: Float32Array, d: number): Float64Array {
  const n = x.length / d;
  const mean = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) mean[j] += x[r * d + j] / n;
  const c = new Float64Array(d * d);
  for (let r = 0; r < n; r++) for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) c[i * d + j] += ((x[r * d + i] - mean[i]) * (x[r * d + j] - mean[j])) / (n - 1);
  return c;
}

test('symmetricEigen recovers a matrix built from known eigenvalues and vectors', () => {
  const d = 12;
  const rng = Rng.fromSeed(1);
  const q = orthogonal(d, rng);
  const values = Array.from({ length: d }, (_, k) => 10 ** (2 - k / 3));
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) a[i * d + j] += q[i * d + k] * values[k] * q[j * d + k];
  const eig = symmetricEigen(a, d);
  assert.deepEqual(
    [...eig.values].sort((x, y) => y - x).map((v, k) => Math.abs(v / values[k] - 1) < 1e-10),
    values.map(() => true),
  );
  for (let k = 0; k < d; k++) {
    for (let i = 0; i < d; i++) {
      let av = 0;
      for (let j = 0; j < d; j++) av += a[i * d + j] * eig.vectors[j * d + k];
      assert.ok(Math.abs(av - eig.values[k] * eig.vectors[i * d + k]) < 1e-9 * values[0], `A v = lambda v, vector ${k}, row ${i}`);
    }
  }
});

test('whitened rows have the identity covariance, and the inverse undoes the whitening', () => {
  const d = 8;
  const x = anisotropicRows(4000, d, 2);
  const w = fitWhitening(x, d);
  const c = covariance(whiten(w, x, d, 1), d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) assert.ok(Math.abs(c[i * d + j] - (i === j ? 1 : 0)) < 1e-4, `cov[${i}][${j}] = ${c[i * d + j]}`);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let sum = 0;
      for (let k = 0; k < d; k++) sum += w.inverse[i * d + k] * w.matrix[k * d + j];
      assert.ok(Math.abs(sum - (i === j ? 1 : 0)) < 1e-8);
    }
  }
  assert.throws(() => fitWhitening(new Float32Array(10 * d).fill(1), d), /do not vary at all/);
});

/** An SAE with random weights in the layout the trainer keeps. */
function randomSae(d: number, dSae: number, applyBDecToInput: boolean, rng: Rng): Sae {
  const f = (n: number, s: number) => Float32Array.from({ length: n }, () => s * rng.normal());
  return {
    architecture: 'standard',
    dIn: d,
    dSae,
    config: {},
    applyBDecToInput,
    normalizeActivations: 'none',
    dtype: 'float32',
    params: { W_enc: f(d * dSae, 0.3), b_enc: f(dSae, 0.2), W_dec: f(dSae * d, 0.3), b_dec: f(d, 0.5) },
    metadata: {},
    extraConfig: {},
    extraTensors: new Map(),
    weightsMetadata: {},
  };
}

test('folding: the folded SAE on x encodes and decodes exactly as the trained one does on s W (x - mean)', async () => {
  const d = 6;
  const dSae = 10;
  const rng = Rng.fromSeed(3);
  const x = anisotropicRows(50, d, 4);
  const w: Whitening = fitWhitening(anisotropicRows(500, d, 5), d);
  const s = 1.7;
  for (const applyBDecToInput of [true, false]) {
    const trained = randomSae(d, dSae, applyBDecToInput, rng);
    const folded = { ...trained, params: foldWhitening(trained.params, w, d, dSae, s, applyBDecToInput) };
    const z = whiten(w, x, d, s);
    const [inner, outer] = [SaeSession.create(trained), SaeSession.create(folded)];
    const actsZ = await inner.encode(z);
    const actsX = await outer.encode(x);
    assert.ok(actsZ.some((v) => v > 0), 'some latents fire');
    for (let i = 0; i < actsZ.length; i++) assert.ok(Math.abs(actsZ[i] - actsX[i]) < 1e-4 * Math.max(1, Math.abs(actsZ[i])), `applyBDecToInput ${applyBDecToInput}, latent value ${i}`);
    // x_hat = W^-1 z_hat / s + mean.
    const zHat = await inner.decode(actsZ);
    const xHat = await outer.decode(actsX);
    for (let r = 0; r < x.length / d; r++) {
      for (let i = 0; i < d; i++) {
        let sum = w.mean[i];
        for (let j = 0; j < d; j++) sum += (w.inverse[i * d + j] * zHat[r * d + j]) / s;
        assert.ok(Math.abs(xHat[r * d + i] - sum) < 1e-3 * Math.max(1, Math.abs(sum)), `row ${r}, dim ${i}: ${xHat[r * d + i]} vs ${sum}`);
      }
    }
    await inner.release();
    await outer.release();
  }
});

test('whiten: true trains on whitened rows and saves an SAE that works on the raw ones', async () => {
  const dIn = 32;
  const { data } = sparseFeatureData({ dIn, features: 64, rows: 8192, meanActive: 3, seed: 6 });
  // Stretch the coordinates over three orders of magnitude, so the raw rows' variance is far from even.
  const stretched = data.map((v, i) => v * 10 ** (1.5 - (3 * (i % dIn)) / (dIn - 1)));
  const result = await trainSae(memorySource(stretched, dIn), { architecture: 'standard', whiten: true, l1Coefficient: 1, expansionFactor: 4, epochs: 4, batchSize: 256, learningRate: 3e-3, seed: 2 });
  assert.deepEqual((result.sae.extraConfig.icrl_lens as { normalization: unknown }).normalization, { scale: result.normScale, folded: true, whitened: true });
  const evaluation = await evaluateSae(result.sae, memorySource(stretched, dIn));
  assert.ok(evaluation.fvu < 0.3 && evaluation.l0 > 0, `fvu ${evaluation.fvu}, l0 ${evaluation.l0}`);
});
