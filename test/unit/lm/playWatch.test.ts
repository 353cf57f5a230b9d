import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { playTwoStep, ResidualRecorder, watchTranscripts, answerDistribution, type LanguageModel } from '../../../src/core/lm';
import { ActivationStore, ActivationStoreWriter } from '../../../src/core/sae/activationStore';
import { graphBatch, gridBatch, twoStepBatch } from '../../../src/core/simulation';
import { tempDir } from '../../fixtures/lm/folders';
import { coveringTexts, loadTranscriptModel } from '../../fixtures/lm/transcriptModel';

const dir = tempDir('icrl-lens-play-');
let model: LanguageModel;
const grid = gridBatch({ experiments: 3, episodes: 4, seed: 2 });
const graph = graphBatch({ experiments: 2, episodes: 4, seed: 3 });

before(async () => {
  const texts = coveringTexts([...grid, ...graph].map((r) => r.transcript.text));
  model = await loadTranscriptModel(dir.path, texts);
});

after(async () => {
  await model.dispose();
  dir.remove();
});

test('the model plays the two-step task: its transcript is the text it read, its choices its argmax', async () => {
  const played = await playTwoStep(model, { experiments: 3, episodes: 5, randomEpisodes: 2, seed: 4, batchSize: 2, policy: { kind: 'argmax' } });
  const tokenizer = model.requireTokenizer();
  for (const g of played) {
    assert.equal(g.episodes.length, 5);
    assert.equal(g.decisions.length, 10);
    assert.deepEqual(g.scored, [false, false, false, false, true, true, true, true, true, true]);
    g.decisions.forEach((d, i) => {
      assert.equal(d.action, g.transitions[i].action);
      if (d.byModel) assert.equal(d.action, d.logProbs.indexOf(Math.max(...d.logProbs)));
      // Nothing is recorded, so no row holds a reward token.
      assert.equal(d.rewardRow, null);
    });
    // A second computation: the whole prefix in one uncached pass gives the distribution the cached game used.
    for (const i of [0, 5, 9]) {
      const span = g.transcript.spans[i];
      const encoded = tokenizer.tokenizeWithOffsets(g.transcript.text);
      const at = tokenizer.answerTokens(encoded, span, span.allowed);
      assert.equal(at.position, g.decisions[i].position);
      const full = await model.forward([encoded.ids.slice(0, at.position + 1)]);
      const expected = answerDistribution(full.logits[0], at.candidates).logProbs;
      g.decisions[i].logProbs.forEach((lp, k) => assert.ok(Math.abs(lp - expected[k]) < 1e-4, `${lp} vs ${expected[k]}`));
    }
  }
  const again = await playTwoStep(model, { experiments: 3, episodes: 5, randomEpisodes: 2, seed: 4, batchSize: 3, policy: { kind: 'argmax' } });
  assert.deepEqual(again.map((g) => g.transcript.text), played.map((g) => g.transcript.text), 'the same seed plays the same games, whatever the batching');
});

test('forced actions: the model is read at every decision but takes the actions given; forcing its own choices reproduces its run', async () => {
  const play = { experiments: 3, episodes: 5, randomEpisodes: 1, seed: 8, batchSize: 2 };
  const clean = await playTwoStep(model, play);
  const own = await playTwoStep(model, play, { forcedActions: clean.map((g) => g.decisions.map((d) => d.action)) });
  assert.deepEqual(own.map((g) => g.decisions), clean.map((g) => g.decisions));
  const flipped = clean.map((g) => g.decisions.map((d) => 1 - d.action));
  const other = await playTwoStep(model, play, { forcedActions: flipped });
  other.forEach((g, e) => {
    assert.deepEqual(g.decisions.map((d) => d.action), flipped[e]);
    assert.deepEqual(g.transitions.map((t) => t.action), flipped[e]);
    // The first decision's distribution is read before any forced action, so it is the clean run's.
    assert.deepEqual(g.decisions[0].logProbs, clean[e].decisions[0].logProbs);
  });
  await assert.rejects(playTwoStep(model, play, { forcedActions: flipped.slice(1) }), /2 experiments' actions for 3 experiments/);
  await assert.rejects(playTwoStep(model, play, { forcedActions: flipped.map((a) => a.slice(1)) }), /experiment 0 has 9 actions, 5 episodes need 10/);
  await assert.rejects(playTwoStep(model, play, { forcedActions: flipped.map((a) => a.map(() => 2)) }), /action 2 is not 0 or 1/);
});

test('the model plays the same tasks as simulated agents with the same seed', async () => {
  const played = await playTwoStep(model, { experiments: 2, episodes: 3, randomEpisodes: 3, seed: 8 });
  const simulated = twoStepBatch({ experiments: 2, episodes: 3, randomEpisodes: 3, seed: 8 });
  played.forEach((g, i) => assert.deepEqual(g.episodes[0].rewardProbs, simulated[i].episodes[0].rewardProbs));
});

test('watching transcripts: predictions come from the position before each answer, per-episode accuracy from them', async () => {
  const tokenizer = model.requireTokenizer();
  const watched = await watchTranscripts(model, grid.map((r) => r.transcript), { batchSize: 2 });
  assert.equal(watched.length, grid.length);
  watched.forEach((w, i) => {
    const { text, spans } = grid[i].transcript;
    assert.equal(w.predictions.length, spans.length);
    const encoded = tokenizer.tokenizeWithOffsets(text);
    w.predictions.forEach((p, k) => {
      assert.equal(spans[k].allowed[p.answer], spans[k].answer);
      assert.equal(encoded.offsets[p.position + 1][1] > spans[k].start, true);
    });
    const hits = w.accuracyPerEpisode.map((_, e) => {
      const ps = w.predictions.filter((p) => p.episode === e);
      return ps.filter((p) => p.predicted === p.answer).length / ps.length;
    });
    assert.deepEqual(w.accuracyPerEpisode, hits);
  });
  const [first] = watched;
  const span = grid[0].transcript.spans[7];
  const encoded = tokenizer.tokenizeWithOffsets(grid[0].transcript.text);
  const at = tokenizer.answerTokens(encoded, span, span.allowed);
  const alone = await model.forward([encoded.ids.slice(0, at.position + 1)]);
  const expected = answerDistribution(alone.logits[0], at.candidates).logProbs;
  first.predictions[7].logProbs.forEach((lp, k) => assert.ok(Math.abs(lp - expected[k]) < 1e-4));
});

test('play and watch record the residual stream at every answer point', async () => {
  const storeDir = join(dir.path, 'store');
  const store = await ActivationStoreWriter.open(storeDir, {
    blocks: [0, 2],
    dModel: model.info.dModel,
    metaFields: ['experiment', 'episode', 'step', 'position', 'token'],
  });
  const recorder = new ResidualRecorder(store, [0, 2], model.info.dModel);
  const watched = await watchTranscripts(model, graph.map((r) => r.transcript), {}, { recorder });
  await store.close();
  const read = await ActivationStore.open(storeDir);
  const rows = watched.flatMap((w) => w.predictions);
  assert.equal(read.rowCount, rows.length);
  assert.deepEqual([...(await read.readMeta('position'))], rows.map((p) => p.position));
  // The recorded row is the residual at that position, as a plain tapped pass returns it.
  const block2 = await read.readAll(2);
  const encoded = model.requireTokenizer().tokenizeWithOffsets(graph[0].transcript.text);
  const pass = await model.forward([encoded.ids], { taps: [2] });
  const d = model.info.dModel;
  const p = rows[3].position;
  for (let j = 0; j < d; j++) assert.ok(Math.abs(block2[3 * d + j] - pass.taps.get(2)![0][p * d + j]) < 1e-5);
});

test('recording every position keeps each token read once, in order, with the answer rows among them', async () => {
  const d = model.info.dModel;
  const tokenizer = model.requireTokenizer();
  const record = async (name: string, run: (recorder: ResidualRecorder) => Promise<unknown>) => {
    const storeDir = join(dir.path, name);
    const recorder = await ResidualRecorder.open(storeDir, [1], d, 'every');
    const result = await run(recorder);
    await recorder.close();
    return { result, read: await ActivationStore.open(storeDir) };
  };

  // Play: the rows of each game are its tokens, positions 0, 1, 2, ... up to the last decision.
  const { result: playedResult, read: playStore } = await record('every-play', (recorder) =>
    playTwoStep(model, { experiments: 2, episodes: 3, randomEpisodes: 1, seed: 8, batchSize: 2 }, { recorder }),
  );
  const played = playedResult as Awaited<ReturnType<typeof playTwoStep>>;
  const position = await playStore.readMeta('position');
  const experiment = await playStore.readMeta('experiment');
  const step = await playStore.readMeta('step');
  const token = await playStore.readMeta('token');
  const rows = await playStore.readAll(1);
  for (const g of played) {
    const ids = [...Array(playStore.rowCount).keys()].filter((i) => experiment[i] === g.index);
    const last = g.decisions[g.decisions.length - 1];
    assert.deepEqual(ids.map((i) => position[i]), [...Array(last.position + 1).keys()]);
    const encoded = tokenizer.tokenizeWithOffsets(g.transcript.text);
    assert.deepEqual(ids.map((i) => token[i]), encoded.ids.slice(0, last.position + 1));
    for (const dec of g.decisions) {
      assert.equal(position[dec.row!], dec.position);
      assert.equal(step[dec.row!], dec.step);
    }
    // Each spaceship choice after the first trip knows the row where the previous trip's treasure count was read:
    // the token that holds the count's digit, found here from the text alone.
    const counts = [...g.transcript.text.matchAll(/received (\d) treasure/g)].map((m) => m.index! + 'received '.length);
    for (const dec of g.decisions) {
      if (dec.step === 1 || dec.episode === 0) {
        assert.equal(dec.rewardRow, null);
        continue;
      }
      const at = counts[dec.episode - 1];
      const [start, end] = encoded.offsets[position[dec.rewardRow!]];
      assert.ok(start <= at && at < end && experiment[dec.rewardRow!] === g.index, `episode ${dec.episode}`);
      assert.equal(tokenizer.decode([token[dec.rewardRow!]]).trim(), String(g.episodes[dec.episode - 1].reward));
    }
    assert.equal(ids.filter((i) => step[i] !== -1).length, g.decisions.length);
    // A row is the residual a plain pass over the finished transcript gives at its position.
    const pass = await model.forward([encoded.ids.slice(0, last.position + 1)], { taps: [1], allPositions: true });
    for (const i of [ids[0], ids[7], g.decisions[0].row!]) {
      for (let j = 0; j < d; j++) assert.ok(Math.abs(rows[i * d + j] - pass.taps.get(1)![0][position[i] * d + j]) < 1e-4);
    }
  }

  // Watch: every token of every transcript, the predictions' rows at their positions.
  const { result: watchedResult, read: watchStore } = await record('every-watch', (recorder) =>
    watchTranscripts(model, grid.map((r) => r.transcript), { batchSize: 2 }, { recorder }),
  );
  const watched = watchedResult as Awaited<ReturnType<typeof watchTranscripts>>;
  const lengths = grid.map((r) => tokenizer.tokenizeWithOffsets(r.transcript.text).ids.length);
  assert.equal(watchStore.rowCount, lengths.reduce((a, b) => a + b, 0));
  const wPosition = await watchStore.readMeta('position');
  const wStep = await watchStore.readMeta('step');
  const wEpisode = await watchStore.readMeta('episode');
  for (const w of watched) {
    for (const p of w.predictions) {
      assert.equal(wPosition[p.row!], p.position);
      assert.equal(wStep[p.row!], p.step);
      assert.equal(wEpisode[p.row!], p.episode);
    }
  }
});

test('a word missing from a word-level vocabulary becomes the unknown token', () => {
  const tokenizer = model.requireTokenizer();
  const ids = tokenizer.encode('Trip 1: zyzzyva');
  assert.equal(tokenizer.tokenToString(ids[ids.length - 1]), '<unk>');
});
