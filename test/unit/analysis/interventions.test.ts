import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { directionDelta, matchedControl, saeDelta } from '../../../src/core/analysis/interventions';
import { columnMeans, rowCovariance } from '../../../src/core/stats';
import { Rng } from '../../../src/core/random';
import { playTwoStep, scoreTwoStep, type BlockResidual, type DeltaFn, type LanguageModel } from '../../../src/core/lm';
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
  // 'marked': the positions the pass is told of; one past the end is ignored.
  const marked = [3, 10, ids.length + 5];
  for (const at of ['all', 'last', 'marked'] as const) {
    const run = await model.forward([ids], { taps: [BLOCK], interventions: { [BLOCK]: directionDelta({ weights, center }, at) }, marks: [marked] });
    const y = run.taps.get(BLOCK)![0];
    for (let p = 0; p < ids.length; p++) {
      const touched = at === 'all' || (at === 'last' ? p === ids.length - 1 : marked.includes(p));
      // The change is k w with k = -((x - c) . w) / |w|^2: after it, (y - c) . w = 0.
      const k = touched ? -(dot(x, p) - dot(center, 0)) / norm2 : 0;
      for (let j = 0; j < d; j++) assert.ok(Math.abs(y[p * d + j] - (x[p * d + j] + k * weights[j])) < 1e-4, `${at}, position ${p}, dim ${j}`);
      if (touched) assert.ok(Math.abs(dot(y, p) - dot(center, 0)) < 1e-3, `${at}, position ${p}: the reading is held`);
    }
  }
  assert.throws(() => directionDelta({ weights: new Float64Array(d), center }, 'all'), /weights are all zero/);
});

test('a matched control direction: the rows vary along it exactly as much as along the probe, counted row by row', () => {
  const d = 6;
  const n = 3000;
  const rng = Rng.fromSeed(11);
  // Columns of very different spread, two of them mixed, and off-centre.
  const scales = [5, 3, 2, 1, 0.5, 0.1];
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) x[i * d + j] = 1 + j + scales[j] * rng.normal();
    x[i * d + 1] += 0.5 * x[i * d];
  }
  const center = columnMeans(x, d);
  const cov = rowCovariance(x, d, center);
  // A second computation: the population sd of the rows' projections on a unit direction.
  const sdOfRows = (u: ArrayLike<number>) => {
    const norm = Math.sqrt(Array.from(u).reduce((a, w) => a + w * w, 0));
    const p = Array.from({ length: n }, (_, i) => Array.from(u).reduce((a, w, j) => a + (w / norm) * (x[i * d + j] - center[j]), 0));
    const m = p.reduce((a, b) => a + b, 0) / n;
    return Math.sqrt(p.reduce((a, b) => a + (b - m) ** 2, 0) / n);
  };
  for (let j = 0; j < d; j++) assert.ok(Math.abs(center[j] - Array.from({ length: n }, (_, i) => x[i * d + j]).reduce((a, b) => a + b, 0) / n) < 1e-9);
  const g = Float64Array.from({ length: d }, () => rng.normal());
  // A quiet probe (mostly the last, least-varying column).
  const probe = Float64Array.from([0.05, -0.02, 0.1, 0.2, 0.3, 1]);
  const { control, sd } = matchedControl(cov, d, probe, g);
  assert.ok(Math.abs(sd.probe / sdOfRows(probe) - 1) < 1e-9, `${sd.probe} against ${sdOfRows(probe)}`);
  assert.ok(Math.abs(sdOfRows(control) / sdOfRows(probe) - 1) < 1e-6, `${sdOfRows(control)} against ${sdOfRows(probe)}`);
  const cos = Array.from(control).reduce((a, c, j) => a + c * probe[j], 0) / Math.hypot(...control) / Math.hypot(...probe);
  assert.ok(Math.abs(cos) < 0.99, `the control is not the probe: cos ${cos}`);
  // The average over all directions: sqrt(trace / d), the root mean square of the columns' sds.
  const columnSd = Array.from({ length: d }, (_, j) => sdOfRows(Float64Array.from({ length: d }, (_, k) => (k === j ? 1 : 0))));
  assert.ok(Math.abs(sd.random - Math.sqrt(columnSd.reduce((a, s) => a + s * s, 0) / d)) < 1e-9);
  // A probe louder than any bending of g can reach is refused, not given an unmatched control.
  assert.throws(() => matchedControl(cov, d, Float64Array.from([1, 0.5, 0, 0, 0, 0]), Float64Array.from([0, 0, 0, 0, 0, 1])), /bending the random direction reaches only/);
});

test('when the model plays, the marked positions are the tokens showing each trip\'s reward', async () => {
  const tokenizer = model.requireTokenizer();
  const seen: number[][] = [[], []];
  const spy = (r: BlockResidual) => {
    r.marks.forEach((m, b) => seen[b].push(...m.filter((p) => p >= r.start[b] && p < r.start[b] + r.lengths[b])));
    return null;
  };
  const played = await playTwoStep(model, { experiments: 2, episodes: 5, randomEpisodes: 1, seed: 5, batchSize: 2 }, { interventions: { [BLOCK]: spy } });
  played.forEach((g, b) => {
    const ids = tokenizer.encode(g.transcript.text);
    // One marked token per trip after which a spaceship choice came (every trip but the last), showing that trip's treasure.
    assert.equal(seen[b].length, g.episodes.length - 1);
    assert.deepEqual(seen[b].map((p) => tokenizer.decode([ids[p]]).trim()), g.episodes.slice(0, -1).map((ep) => String(ep.reward)));
  });
});

test('scoring played experiments in one pass per transcript gives the distributions of a forced replay, edited or not', async () => {
  const play = { experiments: 3, episodes: 5, randomEpisodes: 1, seed: 6, batchSize: 2 };
  const clean = await playTwoStep(model, play);
  const forcedActions = clean.map((g) => g.decisions.map((d) => d.action));
  const close = (a: number[][][], b: number[][][], what: string) =>
    a.forEach((g, e) => g.forEach((lp, i) => lp.forEach((v, k) => assert.ok(Math.abs(v - b[e][i][k]) < 1e-4, `${what}: experiment ${e}, decision ${i}: ${v} vs ${b[e][i][k]}`))));
  const logProbs = (played: { decisions: { logProbs: number[] }[] }[]) => played.map((g) => g.decisions.map((d) => d.logProbs));
  close(await scoreTwoStep(model, clean, { batchSize: 2 }), logProbs(clean), 'clean');

  const d = model.info.dModel;
  const rng = Rng.fromSeed(4);
  const direction = { weights: Float64Array.from({ length: d }, () => rng.normal()), center: new Float64Array(d) };
  const active = Array.from({ length: sae.dSae }, (_, k) => k).slice(0, 6);
  const cases: [string, DeltaFn, DeltaFn, 'rewards' | 'decisions'][] = [
    ['latents at every token', saeDelta(session, { block: BLOCK, edit: { kind: 'latents', latents: active, op: { kind: 'scale', factor: -3 } }, at: 'all' }), saeDelta(session, { block: BLOCK, edit: { kind: 'latents', latents: active, op: { kind: 'scale', factor: -3 } }, at: 'all' }), 'rewards'],
    // Play's 'last' token of each append is a decision point: scoring marks the decisions instead.
    ['a direction at the decisions', directionDelta(direction, 'last'), directionDelta(direction, 'marked'), 'decisions'],
    ['a direction at the reward tokens', directionDelta(direction, 'marked'), directionDelta(direction, 'marked'), 'rewards'],
  ];
  for (const [what, inPlay, inScoring, marks] of cases) {
    const replayed = await playTwoStep(model, play, { interventions: { [BLOCK]: inPlay }, forcedActions });
    const scored = await scoreTwoStep(model, clean, { batchSize: 3, marks }, { interventions: { [BLOCK]: inScoring } });
    close(scored, logProbs(replayed), what);
    assert.ok(scored.some((g, e) => g.some((lp, i) => Math.abs(lp[0] - clean[e].decisions[i].logProbs[0]) > 1e-3)), `${what}: the edit changes some distribution`);
  }
  // Experiments played with other prompt options are refused, not misread.
  await assert.rejects(scoreTwoStep(model, clean, { prompt: { spaceships: ['B', 'A'] } }), /experiment 0, decision 0: the prompt rebuilt from its episodes is not the text it was played on; score with the prompt options/);
});
