import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateModel, evaluationChecks, formatEvaluation, type ModelEvaluation } from '../../../src/core/analysis/modelEvaluation';
import { watchTranscripts, type LanguageModel } from '../../../src/core/lm';
import { graphBatch, gridBatch, twoStepBatch } from '../../../src/core/simulation';
import { tempDir } from '../../fixtures/lm/folders';
import { coveringTexts, loadTranscriptModel } from '../../fixtures/lm/transcriptModel';

const dir = tempDir('icrl-lens-evaluate-');
let model: LanguageModel;
const options = { experiments: 10, episodes: 10, seed: 7001 };
let evaluation: Promise<ModelEvaluation> | undefined;
/** One evaluation, shared by the tests that read it. */
const evaluated = () => (evaluation ??= evaluateModel(model, options));

before(async () => {
  const texts = coveringTexts([...gridBatch(options), ...gridBatch({ ...options, rewards: 'shuffled' }), ...graphBatch(options)].map((r) => r.transcript.text));
  model = await loadTranscriptModel(dir.path, texts);
});

after(async () => {
  await model.dispose();
  dir.remove();
});

test('evaluate runs every task on a model and reports each block\u2019s probes per decision stage, pooled and alone', async () => {
  const e = await evaluated();
  assert.deepEqual(e.probe.map((p) => p.block), model.info.blocks.map((_, i) => i));
  const inRange = (r: number) => Number.isFinite(r) && Math.abs(r) <= 1;
  for (const p of e.probe) {
    for (const pair of [p, p.singleMap, p.firstStage, p.secondStage]) assert.ok(inRange(pair.tdError) && inRange(pair.qDiff) && inRange(pair.tdErrorDetrended), JSON.stringify(p));
  }
  const checks = evaluationChecks(e);
  assert.equal(checks.length, 7);
  const best = Math.max(...e.probe.map((p) => p.tdError));
  assert.equal(checks.find((c) => c.claim.startsWith('probe: some block predicts the TD error'))!.passed, best >= 0.5);
  const text = formatEvaluation(e);
  for (const p of e.probe) assert.ok(text.includes(`block ${p.block}: TD error ${p.tdError.toFixed(3)} (${p.singleMap.tdError.toFixed(3)}, `), text);
  for (const p of e.probe) assert.ok(text.includes(`TD error less its mean at each decision ${p.tdErrorDetrended.toFixed(3)} (`), text);
  // Each fitted model's NLL split by stage adds up to its total, in the comparison's order.
  const t = e.twoStep;
  assert.deepEqual(t.nllByStage.map((r) => r.model), t.comparison.map((r) => r.model));
  t.nllByStage.forEach((r, k) => assert.ok(Math.abs(r.spaceship + r.alien - t.comparison[k].nll) < 1e-6 * t.comparison[k].nll, r.model));
  // Stay probabilities count the choices after the random opening: one spaceship repeat-or-not per trip there.
  const spaceship = t.stay.spaceship;
  const counted = spaceship.rewarded.common.n + spaceship.rewarded.rare.n + spaceship.unrewarded.common.n + spaceship.unrewarded.rare.n;
  assert.equal(counted, options.experiments * (options.episodes - e.options.randomEpisodes));
  assert.ok(text.includes(`alien after treasure ${t.stay.alien.rewarded.mean.toFixed(3)}`), text);
});

test('evaluate scores the model\u2019s predictions of the generating agents\u2019 choices after the opening, beside fitted models and the agents\u2019 own learners', async () => {
  const e = await evaluated();
  const p = e.twoStep.agentPrediction;
  const names = p.nllByStage.map((r) => r.model);
  assert.equal(names[0], 'model');
  assert.equal(names.at(-1), 'agents');
  assert.deepEqual([...names.slice(1, -1)].sort(), ['q-learning', 'repetition']);
  // Recomputed here from the agents' records and the model's own predictions: stage by the
  // transition's state, only the choices after the random opening.
  const agents = twoStepBatch({ ...options, randomEpisodes: e.options.randomEpisodes });
  const watched = await watchTranscripts(model, agents.map((r) => r.transcript));
  const expected = { model: [0, 0], agents: [0, 0] };
  let scored = 0;
  agents.forEach((r, x) =>
    r.transitions.forEach((tr, i) => {
      if (i < 2 * e.options.randomEpisodes) return; // two choices per episode
      scored++;
      const stage = tr.state === 0 ? 0 : 1;
      const prediction = watched[x].predictions[i];
      assert.equal(prediction.answer, tr.action);
      expected.model[stage] -= prediction.logProbs[tr.action];
      expected.agents[stage] -= r.latents[i].logProb;
    }),
  );
  assert.equal(scored, options.experiments * (options.episodes - e.options.randomEpisodes) * 2);
  const row = (name: string) => p.nllByStage.find((r) => r.model === name)!;
  for (const name of ['model', 'agents'] as const) {
    assert.ok(Math.abs(row(name).spaceship - expected[name][0]) < 1e-6 * expected[name][0], name);
    assert.ok(Math.abs(row(name).alien - expected[name][1]) < 1e-6 * expected[name][1], name);
  }
  // The paired difference per experiment sums to the difference of the totals.
  const total = (name: string) => row(name).spaceship + row(name).alien;
  assert.ok(Math.abs(p.modelMinusQ.mean * options.experiments - (total('model') - total('q-learning'))) < 1e-6 * total('model'));
  assert.ok(formatEvaluation(e).includes(`model ${row('model').spaceship.toFixed(1)} + ${row('model').alien.toFixed(1)} = ${total('model').toFixed(1)}`));
});
