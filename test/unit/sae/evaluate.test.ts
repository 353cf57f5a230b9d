import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../../src/core/random';
import { ARCHITECTURES } from '../../../src/core/sae/architectures';
import { densityHistogram, evaluateSae } from '../../../src/core/sae/evaluate';
import type { Sae } from '../../../src/core/sae/sae';
import { memorySource } from '../../../src/core/sae/source';

const dIn = 8;
const dSae = 24;
const rows = 300;

function fixture(architecture: 'standard' | 'topk') {
  const rng = Rng.fromSeed(21);
  const params = ARCHITECTURES[architecture].training!.init(rng, dIn, dSae, { k: 3 });
  for (let i = 0; i < dSae; i++) params.b_enc[i] = i < 4 ? -100 : rng.normal(0, 0.2); // four latents that never fire
  for (let j = 0; j < dIn; j++) params.b_dec[j] = rng.normal(0, 0.3);
  const sae: Sae = {
    architecture,
    dIn,
    dSae,
    config: architecture === 'topk' ? { k: 3 } : {},
    applyBDecToInput: true,
    normalizeActivations: 'none',
    dtype: 'float32',
    params,
    metadata: {},
    extraConfig: {},
    extraTensors: new Map(),
    weightsMetadata: {},
  };
  const x = Float32Array.from({ length: rows * dIn }, () => rng.normal(0.5, 1));
  return { sae, x };
}

/** The metrics computed directly from their definitions, in float64 loops. */
function reference(sae: Sae, x: Float32Array) {
  const { W_enc, b_enc, W_dec, b_dec } = sae.params;
  const k = sae.config.k as number | undefined;
  let sqErr = 0;
  let active = 0;
  const fired = new Float64Array(dSae);
  const mean = new Float64Array(dIn);
  for (let r = 0; r < rows; r++) for (let j = 0; j < dIn; j++) mean[j] += x[r * dIn + j] / rows;
  let variance = 0;
  for (let r = 0; r < rows; r++) {
    const pre = Array.from({ length: dSae }, (_, i) => {
      let s = b_enc[i];
      for (let j = 0; j < dIn; j++) s += (x[r * dIn + j] - b_dec[j]) * W_enc[j * dSae + i];
      return s;
    });
    let acts = pre.map((v) => Math.max(v, 0));
    if (k !== undefined) {
      const kth = [...pre].sort((a, b) => b - a)[k - 1];
      acts = acts.map((v, i) => (pre[i] >= kth ? v : 0));
    }
    for (let j = 0; j < dIn; j++) {
      let xh = b_dec[j];
      for (let i = 0; i < dSae; i++) xh += acts[i] * W_dec[i * dIn + j];
      sqErr += (x[r * dIn + j] - xh) ** 2;
      variance += (x[r * dIn + j] - mean[j]) ** 2;
    }
    acts.forEach((v, i) => {
      if (v > 0) {
        active++;
        fired[i]++;
      }
    });
  }
  return { mse: sqErr / rows, fvu: sqErr / variance, l0: active / rows, density: fired.map((f) => f / rows) };
}

for (const architecture of ['standard', 'topk'] as const) {
  test(`${architecture}: MSE, FVU, L0, dead fraction and densities match their definitions`, async () => {
    const { sae, x } = fixture(architecture);
    const ref = reference(sae, x);
    const ev = await evaluateSae(sae, memorySource(x, dIn), { chunkRows: 64 });
    assert.equal(ev.rows, rows);
    assert.ok(Math.abs(ev.mse - ref.mse) < 1e-5 * ref.mse, `mse ${ev.mse} vs ${ref.mse}`);
    assert.ok(Math.abs(ev.fvu - ref.fvu) < 1e-5 * ref.fvu, `fvu ${ev.fvu} vs ${ref.fvu}`);
    assert.ok(Math.abs(ev.l0 - ref.l0) < 1e-12, `l0 ${ev.l0} vs ${ref.l0}`);
    assert.deepEqual([...ev.featureDensity], [...ref.density]);
    const dead = ref.density.filter((d) => d === 0).length;
    assert.ok(dead >= 4);
    assert.equal(ev.deadFraction, dead / dSae);
    assert.equal(ev.densityHistogram.dead, dead);
    assert.equal(ev.densityHistogram.counts.reduce((s, c) => s + c, 0), dSae - dead);
  });
}

test('the density histogram bins log10 densities, with dead latents apart', () => {
  const h = densityHistogram([1, 0.5, 0.01, 0.011, 0, 0.001], 0.5);
  assert.deepEqual(h.edges, [-3, -2.5, -2, -1.5, -1, -0.5, 0]);
  assert.deepEqual(h.counts, [1, 0, 2, 0, 0, 1, 1]);
  assert.equal(h.dead, 1);
});
