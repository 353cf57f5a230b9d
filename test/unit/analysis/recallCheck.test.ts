import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RECALL_LENGTH, recallCheck } from '../../../src/core/analysis/modelEvaluation';
import { OBJECT_WORDS } from '../../../src/core/envs/words';
import { watchTranscripts, type LanguageModel } from '../../../src/core/lm';
import { recallTranscript } from '../../../src/core/prompts';
import { Rng } from '../../../src/core/random';
import { mean } from '../../../src/core/stats';
import { tempDir } from '../../fixtures/lm/folders';
import { coveringTexts, loadTranscriptModel } from '../../fixtures/lm/transcriptModel';

const dir = tempDir('icrl-lens-recall-');
let model: LanguageModel;

before(async () => {
  model = await loadTranscriptModel(dir.path, coveringTexts([recallTranscript(OBJECT_WORDS.slice(0, RECALL_LENGTH), OBJECT_WORDS).text]));
});

after(async () => {
  await model.dispose();
  dir.remove();
});

test('the recall check averages each list\u2019s answers by whether the name before them came earlier, then over lists', async () => {
  const seed = 5;
  const lists = 4;
  const check = await recallCheck(model, lists, seed);
  assert.equal(check.listLength, RECALL_LENGTH);
  assert.equal(check.pool, OBJECT_WORDS.length);
  assert.ok(Math.abs(check.uniformLogProb + Math.log(OBJECT_WORDS.length)) < 1e-12);

  // A second computation: the same lists, read through the runtime, each answer classed from the chain itself.
  const rng = Rng.fromSeed(seed);
  const transcripts = Array.from({ length: lists }, () => recallTranscript(rng.shuffle(OBJECT_WORDS).slice(0, RECALL_LENGTH), OBJECT_WORDS));
  const watched = await watchTranscripts(model, transcripts);
  const perList = watched.map((w, i) => {
    const chain = [...transcripts[i].meta.list, ...transcripts[i].meta.list];
    const byClass: { hit: number[]; logProb: number[] }[] = [{ hit: [], logProb: [] }, { hit: [], logProb: [] }];
    w.predictions.forEach((p, k) => {
      const c = chain.slice(0, k).includes(chain[k]) ? 1 : 0;
      byClass[c].hit.push(p.predicted === p.answer ? 1 : 0);
      byClass[c].logProb.push(p.logProbs[p.answer]);
    });
    assert.equal(byClass[1].hit.length, RECALL_LENGTH - 1);
    return byClass.map((b) => ({ accuracy: mean(b.hit), logProb: mean(b.logProb) }));
  });
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} vs ${b}`);
  close(check.first.accuracy.mean, mean(perList.map((l) => l[0].accuracy)));
  close(check.second.accuracy.mean, mean(perList.map((l) => l[1].accuracy)));
  close(check.first.logProb.mean, mean(perList.map((l) => l[0].logProb)));
  close(check.second.logProb.mean, mean(perList.map((l) => l[1].logProb)));
  assert.ok(check.second.logProb.mean < 0 && check.second.logProb.mean > -20);
});
