import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { directionDelta, saeDelta } from '../../../src/core/analysis/interventions';
import { playTwoStep, type LanguageModel } from '../../../src/core/lm';
import { memorySource, SaeSession, trainSae, type Sae } from '../../../src/core/sae';
import { twoStepBatch } from '../../../src/core/simulation';
import { tempDir } from '../../fixtures/lm/folders';
import { loadTranscriptModel } from '../../fixtures/lm/transcriptModel';

const dir = tempDir('icrl-lens-interventions-');
const BLOCK = 1;
let model: LanguageModel;
let sae: Sae;
let session: SaeSession;
let ids: number[];

before(async () => {
  const texts = twoStepBatch({ experiments: 20, episodes: 12, seed: 1 }).map((r) => r.transcript.text);
  model = await loadTranscriptModel(dir.path, texts);
  ids = model.requireTokenizer().encode(texts[0]).slice(0, 120);
  const pass = await model.forward(texts.slice(0, 6).map((t) => model.requireTokenizer().encode(t).slice(0, 200)), { taps: [BLOCK] });
  const rows = Float32Array.from(pass.taps.get(BLOCK)!.flatMap((r) => [...r]));
  sae = (await trainSae(memorySource(rows, model.info.dModel), { architecture: 'standard', expansionFactor: 2, epochs: 2, batchSize: 128, seed: 3 })).sae;
  session = SaeSession.create(sae);
});

after(async () => {
  await session.release();
  await model.dispose();
  dir.remove();
});

test('an edit that changes nothing reproduces the clean run exactly', async () => {
  const clean = await playTwoStep(model, { experiments: 2, episodes: 4, randomEpisodes: 1, seed: 5 });
  const latents = Array.from({ length: sae.dSae }, (_, k) => k);
  const interventions = { [BLOCK]: saeDelta(session, { block: BLOCK, edit: { kind: 'latents', latents, op: { kind: 'scale', factor: 1 } }, at: 'all' }) };
  const edited = await playTwoStep(model, { experiments: 2, episodes: 4, randomEpisodes: 1, seed: 5 }, { interventions });
  assert.deepEqual(edited.map((g) => g.decisions), clean.map((g) => g.decisions));
});

test('ablating latents adds -f_k W_dec[k] to the residual, and only at the positions asked for', async () => {
  const clean = await model.forward([ids], { taps: [BLOCK] });
  const x = clean.taps.get(BLOCK)![0];
  const d = model.info.dModel;
  const f = await session.encode(x);
  const active = Array.from({ length: sae.dSae }, (_, k) => k).filter((k) => f[(ids.length - 1) * sae.dSae + k] > 0).slice(0, 3);
  assert.ok(active.length > 0, 'some latent fires at the last position');
  for (const at of ['all', 'last'] as const) {
    const delta = saeDelta(session, { block: BLOCK, edit: { kind: 'latents', latents: active, op: { kind: 'ablate' } }, at });
    const run = await model.forward([ids], { taps: [BLOCK], interventions: { [BLOCK]: delta } });
    const y = run.taps.get(BLOCK)![0];
    for (let p = 0; p < ids.length; p++) {
      const touched = at === 'all' || p === ids.length - 1;
      for (let j = 0; j < d; j++) {
        let expected = x[p * d + j];
        if (touched) for (const k of active) expected -= f[p * sae.dSae + k] * sae.params.W_dec[k * d + j];
        assert.ok(Math.abs(y[p * d + j] - expected) < 1e-4, `${at}, position ${p}, dim ${j}: ${y[p * d + j]} vs ${expected}`);
      }
    }
  }
});

test('the full-reconstruction splice puts the SAE reconstruction in place of the residual', async () => {
  const clean = await model.forward([ids], { taps: [BLOCK] });
  const recon = await session.decode(await session.encode(clean.taps.get(BLOCK)![0]));
  const run = await model.forward([ids], { taps: [BLOCK], interventions: { [BLOCK]: saeDelta(session, { block: BLOCK, edit: { kind: 'reconstruct' }, at: 'all' }) } });
  const y = run.taps.get(BLOCK)![0];
  for (let i = 0; i < y.length; i++) assert.ok(Math.abs(y[i] - recon[i]) < 1e-4);
  // And it changes what the model predicts downstream (the logits are not the clean ones).
  assert.notDeepEqual(run.logits[0], clean.logits[0]);
});

test('holding a direction\'s reading removes x\'s component along it, and nothing else, at the positions asked for', async () => {
  const clean = await model.forward([ids], { taps: [BLOCK] });
  const x = clean.taps.get(BLOCK)![0];
  const d = model.info.dModel;
  const weights = Float64Array.from({ length: d }, (_, j) => Math.sin(j + 1));
  const center = Float64Array.from({ length: d }, (_, j) => x[j] * 0.5);
  const dot = (v: ArrayLike<number>, p: number) => Array.from(weights).reduce((s, w, j) => s + w * v[p * d + j], 0);
  const norm2 = dot(weights, 0);
  for (const at of ['all', 'last'] as const) {
    const run = await model.forward([ids], { taps: [BLOCK], interventions: { [BLOCK]: directionDelta({ weights, center }, at) } });
    const y = run.taps.get(BLOCK)![0];
    for (let p = 0; p < ids.length; p++) {
      const touched = at === 'all' || p === ids.length - 1;
      // The change is k w with k = -((x - c) . w) / |w|^2: after it, (y - c) . w = 0.
      const k = touched ? -(dot(x, p) - dot(center, 0)) / norm2 : 0;
      for (let j = 0; j < d; j++) assert.ok(Math.abs(y[p * d + j] - (x[p * d + j] + k * weights[j])) < 1e-4, `${at}, position ${p}, dim ${j}`);
      if (touched) assert.ok(Math.abs(dot(y, p) - dot(center, 0)) < 1e-3, `${at}, position ${p}: the reading is held`);
    }
  }
  assert.throws(() => directionDelta({ weights: new Float64Array(d), center }, 'all'), /weights are all zero/);
});
