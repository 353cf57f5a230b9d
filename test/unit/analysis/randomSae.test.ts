import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fireRates, randomSae } from '../../../src/core/analysis/randomSae';
import { Rng } from '../../../src/core/random';
import { SaeSession } from '../../../src/core/sae';

test('a random SAE fires each latent on the fraction of the sample asked for, and encodes like its equations', async () => {
  const rng = Rng.fromSeed(8);
  const m = 400;
  const dIn = 16;
  const dSae = 24;
  // Off-centre data, as residual streams are: b_dec must take the mean out.
  const x = Float32Array.from({ length: m * dIn }, (_, k) => 3 + (k % dIn) + rng.normal());
  const wanted = Array.from({ length: dSae }, (_, j) => (j === 0 ? 0 : j === 1 ? 1 : j / (2 * dSae)));
  const sae = randomSae(x, dIn, { dSae, seed: 3, fireRate: wanted });
  const session = SaeSession.create(sae);
  try {
    const acts = await session.encode(x);
    const rates = fireRates(acts, dSae);
    // Float32 arithmetic in the encoder can move a projection that sits at the cut by a row.
    wanted.forEach((w, j) => assert.ok(Math.abs(rates[j] - w) <= 1.5 / m, `latent ${j}: ${rates[j]} for ${w}`));
    const { W_enc, b_enc, b_dec } = sae.params;
    for (let i = 0; i < m; i += 37) {
      for (let j = 0; j < dSae; j++) {
        let pre = b_enc[j];
        for (let k = 0; k < dIn; k++) pre += (x[i * dIn + k] - b_dec[k]) * W_enc[k * dSae + j];
        assert.ok(Math.abs(acts[i * dSae + j] - Math.max(0, pre)) < 1e-4, `row ${i} latent ${j}`);
      }
    }
  } finally {
    await session.release();
  }
  for (let j = 0; j < dSae; j++) {
    let norm = 0;
    for (let k = 0; k < dIn; k++) norm += sae.params.W_enc[k * dSae + j] ** 2;
    assert.ok(Math.abs(norm - 1) < 1e-5);
  }
  assert.deepEqual(randomSae(x, dIn, { dSae, seed: 3, fireRate: wanted }).params.W_enc, sae.params.W_enc);
  assert.notDeepEqual(randomSae(x, dIn, { dSae, seed: 4, fireRate: wanted }).params.W_enc, sae.params.W_enc);
});

test('random SAE options are checked', () => {
  const x = new Float32Array(8);
  assert.throws(() => randomSae(x, 4, { dSae: 3, seed: 0, fireRate: [0.1, 0.2] }), /2 fire rates for 3 latents/);
  assert.throws(() => randomSae(x, 4, { dSae: 3, seed: 0, fireRate: 1.5 }), /fireRate\[0\]/);
  assert.throws(() => randomSae(x, 3, { dSae: 3, seed: 0, fireRate: 0.1 }), /rows of 3/);
  assert.deepEqual(Array.from(fireRates(Float32Array.from([0, 1, 2, 0, 0, -1]), 2)), [1 / 3, 1 / 3]);
});
