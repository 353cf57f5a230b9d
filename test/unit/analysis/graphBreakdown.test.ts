import { test } from 'node:test';
import assert from 'node:assert/strict';
import { graphPredictionBreakdown } from '../../../src/core/analysis/modelEvaluation';
import type { Prediction, WatchedTranscript } from '../../../src/core/lm';
import { graphBatch, recordGraph, walkCeiling, type GraphRecord } from '../../../src/core/simulation';

/** Predictions for a walk from a rule choosing the model's guess at each step, with all the log-probability on it or spread evenly. */
function watchedBy(r: GraphRecord, guess: (k: number) => number, spread: boolean): WatchedTranscript {
  const n = r.env.words.length;
  const predictions: Prediction[] = r.transitions.map((t, k) => {
    const predicted = guess(k);
    const logProbs = Array.from({ length: n }, (_, j) => (spread ? -Math.log(n) : j === predicted ? 0 : -Infinity));
    return { episode: r.transcript.spans[k].episode, step: k, logProbs, answer: t.action, predicted, position: k, row: null };
  });
  return { index: r.index, predictions, accuracyPerEpisode: [], logProbPerEpisode: [] };
}

const records = graphBatch({ experiments: 3, episodes: 4, seed: 11 });

test('a model that always names the node just left picks a neighbour every time and never the current node', () => {
  const watched = records.map((r) => watchedBy(r, (k) => (k === 0 ? recordGraph(r).neighbours(r.transitions[0].state)[0] : r.transitions[k - 1].state), false));
  const b = graphPredictionBreakdown(records, watched);
  assert.equal(b.argmaxNeighbour.mean, 1);
  assert.equal(b.argmaxPrevious.mean, 1);
  assert.equal(b.argmaxCurrent.mean, 0);
  // All the mass on one neighbour: the neighbours together get 1; the node that came got it only when it was that one.
  assert.equal(b.neighbourProbability.mean, 1);
  assert.equal(b.uniformLogProb, -Math.log(15));
});

test('a uniform guess that names the current node: never a neighbour, the neighbours get degree / n, log-probability log 1/n', () => {
  const watched = records.map((r) => watchedBy(r, (k) => r.transitions[k].state, true));
  const b = graphPredictionBreakdown(records, watched);
  assert.equal(b.argmaxNeighbour.mean, 0);
  assert.equal(b.argmaxCurrent.mean, 1);
  assert.equal(b.argmaxPrevious.mean, 0);
  // Every node of the default graph has four neighbours (Schapiro et al.'s graph).
  assert.ok(Math.abs(b.neighbourProbability.mean - 4 / 15) < 1e-12);
  assert.ok(Math.abs(b.logProb.mean + Math.log(15)) < 1e-12);
});

test('predictions that do not belong to the walk are refused', () => {
  const watched = records.map((r) => watchedBy(r, () => 0, true));
  watched[1].predictions[2] = { ...watched[1].predictions[2], answer: (records[1].transitions[2].action + 1) % 15 };
  assert.throws(() => graphPredictionBreakdown(records, watched), /walk 1, step 2/);
  assert.throws(() => graphPredictionBreakdown(records, watched.slice(1)), /3 walks and 2 watched/);
});

test('naming the node just left reaches the ceiling on a graph whose links are equally likely, learning nothing', () => {
  // Every node of the default graph has four links, each taken with probability 1/4,
  // so the way back is always a likeliest next node: in expectation the ceiling itself.
  const walks = graphBatch({ experiments: 200, episodes: 30, seed: 12 });
  const watched = walks.map((r) => watchedBy(r, (k) => (k === 0 ? 0 : r.transitions[k - 1].state), true));
  const b = graphPredictionBreakdown(walks, watched);
  const [lo, hi] = b.backtrackFractionOfCeiling.ci95;
  assert.ok(lo < 1 && 1 < hi, `naming the node just left reaches ${b.backtrackFractionOfCeiling.mean} [${lo}, ${hi}] of the ceiling`);
  assert.ok(hi - lo < 0.1);
  // the same figure counted from the walks' own steps in the last five episodes
  const direct = walks.map((r) => {
    const late = r.transitions.map((t, k) => ({ t, k, episode: r.transcript.spans[k].episode })).filter((s) => s.episode >= 25);
    return late.filter(({ t, k }) => k > 0 && r.transitions[k - 1].state === t.nextState).length / late.length / walkCeiling(r);
  });
  assert.ok(Math.abs(b.backtrackFractionOfCeiling.mean - direct.reduce((a, x) => a + x, 0) / direct.length) < 1e-12);
});
