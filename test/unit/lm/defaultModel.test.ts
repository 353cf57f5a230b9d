import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultModelDir } from '../../../src/cli/defaultModel';
import { chanceReward, expectedReward } from '../../../src/core/envs/twoStep';
import { answerDistribution, loadModel, playTwoStep, type LanguageModel } from '../../../src/core/lm';
import { estimate, mean } from '../../../src/core/stats';
import { tempDir } from '../../fixtures/lm/folders';

const folder = defaultModelDir();
const cache = tempDir('icrl-lens-default-');
let model: LanguageModel;

before(async () => {
  model = await loadModel(folder, { provider: 'cpu', cacheDir: cache.path });
});

after(async () => {
  await model.dispose();
  cache.remove();
});

test('the embedded default model folder is complete and loads with its KV cache', () => {
  for (const file of ['model.onnx', 'tokenizer.json', 'config.json', 'MODEL_CARD.md']) assert.ok(existsSync(join(folder, file)), file);
  const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8'));
  assert.equal(model.info.blocks.length, config.num_hidden_layers);
  assert.equal(model.info.dModel, config.hidden_size);
  assert.ok(model.hasKvCache);
});

test('the default model plays a short two-step game through its KV cache, as its own uncached passes say', async () => {
  const played = await playTwoStep(model, { experiments: 4, episodes: 8, randomEpisodes: 2, seed: 424242, policy: { kind: 'argmax' } });
  const tokenizer = model.requireTokenizer();
  for (const g of played) {
    assert.equal(g.decisions.length, 16);
    const encoded = tokenizer.tokenizeWithOffsets(g.transcript.text);
    const last = g.decisions[g.decisions.length - 1];
    const span = g.transcript.spans[g.decisions.length - 1];
    const at = tokenizer.answerTokens(encoded, span, span.allowed);
    assert.equal(at.position, last.position);
    const full = await model.forward([encoded.ids.slice(0, at.position + 1)]);
    const expected = answerDistribution(full.logits[0], at.candidates).logProbs;
    last.logProbs.forEach((lp, k) => assert.ok(Math.abs(lp - expected[k]) < 1e-3, `${lp} vs ${expected[k]}`));
    // After the random opening the model's own choices are its most probable labels.
    for (const d of g.decisions.filter((d) => d.byModel)) assert.equal(d.action, d.logProbs.indexOf(Math.max(...d.logProbs)));
  }
});

test('the default model beats a random policy in the two-step task on a fixed seed', async () => {
  // 40 experiments of 30 episodes, the first 7 random, then sampled choices (the default policy); seeds never used in training.
  const played = await playTwoStep(model, { experiments: 40, episodes: 30, randomEpisodes: 7, seed: 90210, batchSize: 40 });
  // Per experiment, the chance of treasure of the aliens the model asked, minus a random policy's
  // (every alien equally likely), over episodes 8-30: the expected return, free of the coin flips.
  const advantage = played.map((g) =>
    mean(g.episodes.slice(7).map((e) => expectedReward(e) - chanceReward(e))),
  );
  const { mean: m, ci95 } = estimate(advantage);
  assert.ok(ci95[0] > 0, `advantage over random ${m.toFixed(3)} [${ci95[0].toFixed(3)}, ${ci95[1].toFixed(3)}]`);
});
