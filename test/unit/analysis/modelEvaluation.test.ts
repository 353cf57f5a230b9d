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
});
