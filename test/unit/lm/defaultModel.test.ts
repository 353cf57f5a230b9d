import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultModelDir } from '../../../src/cli/defaultModel';
import { answerDistribution, loadModel, playTwoStep, type LanguageModel } from '../../../src/core/lm';
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
