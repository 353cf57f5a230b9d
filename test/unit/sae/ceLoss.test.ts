import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadModel, type LanguageModel } from '../../../src/core/lm/runtime';
import { Rng } from '../../../src/core/random';
import { ceLossRecovered, evaluateSae } from '../../../src/core/sae/evaluate';
import type { Sae } from '../../../src/core/sae/sae';
import { memorySource } from '../../../src/core/sae/source';
import { tempDir, writeModelFolder } from '../../fixtures/lm/folders';
import { gptModel, tokenIds } from '../../fixtures/lm/models';
import type { ReferenceDeltas } from '../../fixtures/lm/reference';

const m = gptModel();
const { vocab, dModel: d } = m.config;
const BLOCK = 1;
/** Ragged lengths, so that batches are padded; the one-token sequence predicts nothing and is left out. */
const SEQUENCES = [tokenIds(9, vocab, 1), tokenIds(5, vocab, 2), tokenIds(12, vocab, 3), tokenIds(1, vocab, 4), tokenIds(7, vocab, 5)];

const dir = tempDir();
let model: LanguageModel;
before(async () => {
  model = await loadModel(writeModelFolder(join(dir.path, 'gpt'), m.bytes), { cacheDir: join(dir.path, 'cache'), provider: 'cpu' });
});
after(async () => {
  await model.dispose();
  dir.remove();
});

/**
 * An SAE with d_sae = 2 d_in whose latents are the positive and negative parts
 * of x - b_dec: W_enc = [I, -I], and W_dec = [I; -I] to reconstruct x exactly,
 * [I; 0] to keep only the positive part, or 0 to reconstruct nothing but b_dec.
 */
function signSae(decoder: 'both' | 'positive' | 'none', bDec: Float32Array): Sae {
  const W_enc = new Float32Array(d * 2 * d);
  const W_dec = new Float32Array(2 * d * d);
  for (let j = 0; j < d; j++) {
    W_enc[j * 2 * d + j] = 1;
    W_enc[j * 2 * d + d + j] = -1;
    if (decoder !== 'none') W_dec[j * d + j] = 1;
    if (decoder === 'both') W_dec[(d + j) * d + j] = -1;
  }
  return {
    architecture: 'standard',
    dIn: d,
    dSae: 2 * d,
    config: {},
    applyBDecToInput: true,
    normalizeActivations: 'none',
    dtype: 'float32',
    params: { W_enc, b_enc: new Float32Array(2 * d), W_dec, b_dec: bDec },
    metadata: {},
    extraConfig: {},
    extraTensors: new Map(),
    weightsMetadata: {},
  };
}

const rng = Rng.fromSeed(5);
const B_DEC = Float32Array.from({ length: d }, () => rng.normal(0, 0.5));
const ZERO = new Float32Array(d);

/** Mean next-token cross-entropy of the float64 reference model, with a delta at BLOCK computed from its residual. */
function referenceLoss(delta?: (residual: Float64Array) => Float64Array): number {
  let total = 0;
  let tokens = 0;
  for (const ids of SEQUENCES) {
    const deltas: ReferenceDeltas | undefined = delta && new Map([[BLOCK, delta]]);
    const { logits } = m.reference(ids, deltas);
    for (let t = 0; t + 1 < ids.length; t++) {
      const row = logits.subarray(t * vocab, (t + 1) * vocab);
      const max = Math.max(...row);
      const logSum = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
      total += logSum - row[ids[t + 1]];
      tokens++;
    }
  }
  return total / tokens;
}

test('the losses and the recovered fraction match the float64 reference model', async () => {
  // Keeping only the positive part: x_hat = relu(x), delta = relu(x) - x.
  const result = await ceLossRecovered(model, SEQUENCES, BLOCK, signSae('positive', ZERO), { batchSize: 3 });
  const clean = referenceLoss();
  const spliced = referenceLoss((x) => x.map((v) => Math.max(v, 0) - v));
  const zeroAblated = referenceLoss((x) => x.map((v) => -v));
  assert.equal(result.tokens, 8 + 4 + 11 + 6);
  assert.ok(Math.abs(result.clean - clean) < 1e-4, `clean ${result.clean} vs ${clean}`);
  assert.ok(Math.abs(result.spliced - spliced) < 1e-4, `spliced ${result.spliced} vs ${spliced}`);
  assert.ok(Math.abs(result.zeroAblated - zeroAblated) < 1e-4, `zero-ablated ${result.zeroAblated} vs ${zeroAblated}`);
  // The case is informative: splicing hurts, and zeroing hurts more.
  assert.ok(zeroAblated - spliced > 0.05 && spliced - clean > 0.05, `clean ${clean}, spliced ${spliced}, zero ${zeroAblated}`);
  const recovered = (zeroAblated - spliced) / (zeroAblated - clean);
  assert.ok(Math.abs(result.recovered - recovered) < 1e-3, `recovered ${result.recovered} vs ${recovered}`);
});

test('an SAE that reconstructs exactly recovers all of the loss', async () => {
  const result = await ceLossRecovered(model, SEQUENCES, BLOCK, signSae('both', B_DEC));
  assert.ok(Math.abs(result.spliced - result.clean) < 1e-5, `spliced ${result.spliced}, clean ${result.clean}`);
  assert.ok(result.zeroAblated - result.clean > 0.1);
  assert.ok(Math.abs(result.recovered - 1) < 1e-4, `recovered ${result.recovered}`);
});

test('an SAE that outputs zero recovers none of it', async () => {
  const result = await ceLossRecovered(model, SEQUENCES, BLOCK, signSae('none', ZERO));
  assert.ok(Math.abs(result.spliced - result.zeroAblated) < 1e-5, `spliced ${result.spliced}, zero-ablated ${result.zeroAblated}`);
  assert.ok(Math.abs(result.recovered) < 1e-4, `recovered ${result.recovered}`);
});

test('batching does not change the losses, and evaluateSae reports the same with splice', async () => {
  const sae = signSae('positive', B_DEC);
  const one = await ceLossRecovered(model, SEQUENCES, BLOCK, sae, { batchSize: 1 });
  const all = await ceLossRecovered(model, SEQUENCES, BLOCK, sae, { batchSize: 16 });
  for (const key of ['clean', 'spliced', 'zeroAblated', 'recovered'] as const) assert.ok(Math.abs(one[key] - all[key]) < 1e-5, key);
  const rows = Float32Array.from({ length: 64 * d }, () => rng.normal());
  const ev = await evaluateSae(sae, memorySource(rows, d), { splice: { model, sequences: SEQUENCES, block: BLOCK } });
  assert.ok(Math.abs(ev.ceLossRecovered! - all.recovered) < 1e-6);
  assert.deepEqual(Object.keys(ev.ceLoss!).sort(), ['block', 'clean', 'recovered', 'spliced', 'tokens', 'zeroAblated']);
});

test('an SAE of the wrong width, or sequences with nothing to predict, are errors', async () => {
  const narrow = { ...signSae('both', ZERO), dIn: d - 1 };
  await assert.rejects(ceLossRecovered(model, SEQUENCES, BLOCK, narrow), /d_in is 15, the model's residual stream has 16/);
  await assert.rejects(ceLossRecovered(model, [[1], [2]], BLOCK, signSae('both', ZERO)), /two or more tokens/);
});
