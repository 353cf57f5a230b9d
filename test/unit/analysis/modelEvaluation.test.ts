import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateModel, evaluationChecks, formatEvaluation } from '../../../src/core/analysis/modelEvaluation';
import type { LanguageModel } from '../../../src/core/lm';
import { graphBatch, gridBatch } from '../../../src/core/simulation';
import { tempDir } from '../../fixtures/lm/folders';
import { coveringTexts, loadTranscriptModel } from '../../fixtures/lm/transcriptModel';

const dir = tempDir('icrl-lens-evaluate-');
let model: LanguageModel;
const options = { experiments: 10, episodes: 10, seed: 7001 };

before(async () => {
  const texts = coveringTexts([...gridBatch(options), ...gridBatch({ ...options, rewards: 'shuffled' }), ...graphBatch(options)].map((r) => r.transcript.text));
  model = await loadTranscriptModel(dir.path, texts);
});

after(async () => {
  await model.dispose();
  dir.remove();
});

test('evaluate runs every task on a model and reports each block\u2019s probes per decision stage, pooled and alone', async () => {
  const e = await evaluateModel(model, options);
  assert.deepEqual(e.probe.map((p) => p.block), model.info.blocks.map((_, i) => i));
  const inRange = (r: number) => Number.isFinite(r) && Math.abs(r) <= 1;
  for (const p of e.probe) {
    for (const pair of [p, p.singleMap, p.firstStage, p.secondStage]) assert.ok(inRange(pair.tdError) && inRange(pair.qDiff), JSON.stringify(p));
  }
  const checks = evaluationChecks(e);
  assert.equal(checks.length, 7);
  const best = Math.max(...e.probe.map((p) => p.tdError));
  assert.equal(checks.find((c) => c.claim.startsWith('probe: some block predicts the TD error'))!.passed, best >= 0.5);
  const text = formatEvaluation(e);
  for (const p of e.probe) assert.ok(text.includes(`block ${p.block}: TD error ${p.tdError.toFixed(3)} (${p.singleMap.tdError.toFixed(3)}, `), text);
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
