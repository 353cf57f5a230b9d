import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fitModel } from '../../../src/core/agents/fit';
import { negLogLikelihood } from '../../../src/core/agents/likelihood';
import { SUCCESSOR_REPRESENTATION, SuccessorLearner, successorModel, walkTransitions } from '../../../src/core/agents/successor';
import { createLearner } from '../../../src/core/agents/types';
import { Rng } from '../../../src/core/random';

const close = (actual: number, expected: number, tol = 1e-12) =>
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);

/*
 * Hand-worked SR-TD on three states, alpha = 0.5, gamma = 0.5, M = I at the start.
 * 0 -> 1: delta = e0 + 0.5 M(1,·) - M(0,·) = (1,0,0) + (0,0.5,0) - (1,0,0) = (0, 0.5, 0);
 *         M(0,·) = (1, 0, 0) + 0.5 (0, 0.5, 0) = (1, 0.25, 0).
 * 1 -> 0: delta = e1 + 0.5 M(0,·) - M(1,·) = (0,1,0) + (0.5, 0.125, 0) - (0,1,0) = (0.5, 0.125, 0);
 *         M(1,·) = (0, 1, 0) + 0.5 (0.5, 0.125, 0) = (0.25, 1.0625, 0).
 * 0 -> 0: delta = e0 + 0.5 M(0,·) - M(0,·) = (1,0,0) + (0.5, 0.125, 0) - (1, 0.25, 0) = (0.5, -0.125, 0);
 *         M(0,·) = (1, 0.25, 0) + 0.5 (0.5, -0.125, 0) = (1.25, 0.1875, 0).
 * The prediction from state 1 with beta = 2, after step 2, leaves state 1 out:
 * logits (2 * 0.25, -, 2 * 0) = (0.5, -, 0), p(0) = e^0.5 / (e^0.5 + 1) = 1.6487212707 / 2.6487212707 = 0.6224593312.
 */
test('SR-TD reproduces a hand-worked three-step example', () => {
  const learner = createLearner(successorModel({ excludeSelf: false }), { nStates: 3, nActions: 3 }, { alpha: 0.5, gamma: 0.5, beta: 2 });
  const steps = walkTransitions([0, 1, 0, 0]).map((t) => learner.observe(t));
  assert.deepEqual(steps.map((s) => s.tdErrors), [[0, 0.5, 0], [0.5, 0.125, 0], [0.5, -0.125, 0]]);
  assert.deepEqual(steps.map((s) => s.srRow), [[1, 0, 0], [0, 1, 0], [1, 0.25, 0]]);
  assert.deepEqual(steps.map((s) => s.srRowAfter), [[1, 0.25, 0], [0.25, 1.0625, 0], [1.25, 0.1875, 0]]);

  const excluding = new SuccessorLearner({ nStates: 3, nActions: 3 }, { alpha: 0.5, gamma: 0.5, beta: 2 });
  for (const t of walkTransitions([0, 1, 0])) excluding.learn(t);
  const p = excluding.probs(1);
  close(p[0], 0.6224593312, 1e-10);
  assert.equal(p[1], 0);
  close(p[2], 1 - 0.6224593312, 1e-10);
});

/**
 * The community graph of Schapiro et al. (2013): 15 nodes in 3 communities of 5,
 * every node of degree 4. Inside a community all pairs are linked except its two
 * boundary nodes (first and last), each of which links instead to a boundary node
 * of the neighbouring community, so the communities form a ring.
 */
function communityTransitionMatrix(): number[][] {
  const n = 15;
  const adjacency = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const link = (a: number, b: number) => {
    adjacency[a][b] = 1;
    adjacency[b][a] = 1;
  };
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < 5; i++) for (let j = i + 1; j < 5; j++) if (!(i === 0 && j === 4)) link(5 * c + i, 5 * c + j);
    link(5 * c + 4, (5 * c + 5) % n);
  }
  for (const row of adjacency) assert.equal(row.reduce((s, v) => s + v, 0), 4);
  return adjacency.map((row) => row.map((v) => v / 4));
}

/** Inverse by Gauss-Jordan elimination with partial pivoting. */
function inverse(a: number[][]): number[][] {
  const n = a.length;
  const m = a.map((row, i) => [...row, ...row.map((_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[pivot][c])) pivot = r;
    [m[c], m[pivot]] = [m[pivot], m[c]];
    const d = m[c][c];
    for (let j = 0; j < 2 * n; j++) m[c][j] /= d;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r][c];
      for (let j = 0; j < 2 * n; j++) m[r][j] -= f * m[c][j];
    }
  }
  return m.map((row) => row.slice(n));
}

test('on the community graph, SR-TD converges to (I - gamma P)^-1', () => {
  const P = communityTransitionMatrix();
  const n = P.length;
  const gamma = 0.8;
  const target = inverse(P.map((row, i) => row.map((v, j) => (i === j ? 1 : 0) - gamma * v)));
  // The inverse is right: it times (I - gamma P) is the identity.
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += target[i][k] * ((k === j ? 1 : 0) - gamma * P[k][j]);
      close(s, i === j ? 1 : 0, 1e-9);
    }
  }

  // A small constant learning rate and a long walk: the stationary noise of TD is O(sqrt(alpha)).
  const learner = new SuccessorLearner({ nStates: n, nActions: n }, { alpha: 0.001, gamma, beta: 1 });
  const rng = Rng.fromSeed(2013);
  let s = 0;
  for (let t = 0; t < 1_000_000; t++) {
    const next = rng.categorical(P[s]);
    learner.learn({ state: s, action: next, reward: 0, nextState: next });
    s = next;
  }
  const m = learner.matrix();
  let maxError = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) maxError = Math.max(maxError, Math.abs(m[i * n + j] - target[i][j]));
  assert.ok(maxError < 0.05, `max |M - (I - gamma P)^-1| = ${maxError}`);
  // The SR carries the community structure: a node's own community outweighs the others.
  assert.ok(target[1][2] > target[1][7] && m[1 * n + 2] > m[1 * n + 7]);
});

test('an SR learner fitted to its own predictions on the graph recovers a sensible fit', () => {
  const P = communityTransitionMatrix();
  const n = P.length;
  const rng = Rng.fromSeed(7);
  const truth = { alpha: 0.2, gamma: 0.6, beta: 4 };
  const agent = createLearner(SUCCESSOR_REPRESENTATION, { nStates: n, nActions: n }, truth);
  const states = [0];
  const predictions: number[] = [];
  const buffer = new Float64Array(n);
  for (let t = 0; t < 600; t++) {
    const s = states[t];
    predictions.push(rng.categorical(agent.probs(s, buffer)));
    const next = rng.categorical(P[s]);
    agent.learn({ state: s, action: predictions[t], reward: 0, nextState: next });
    states.push(next);
  }
  const data = { spec: { nStates: n, nActions: n }, experiments: [{ transitions: walkTransitions(states, predictions) }] };
  const fit = fitModel(SUCCESSOR_REPRESENTATION, data, { restarts: 3, seed: 1 });
  // The optimum is at least as good as the truth, and far better than guessing among the 14 other nodes.
  assert.ok(fit.nll <= negLogLikelihood(SUCCESSOR_REPRESENTATION, truth, data) + 1e-6);
  assert.ok(fit.nll < 600 * Math.log(14) - 50, `nll ${fit.nll}`);
  assert.ok(Math.abs(fit.params.beta - truth.beta) < 2, `beta ${fit.params.beta}`);
  assert.equal(fit.latents[0].length, 600);
  assert.equal(fit.latents[0][0].tdErrors.length, n);
});

test('walkTransitions pairs each state with the next and checks the predictions length', () => {
  assert.deepEqual(walkTransitions([3, 1, 2], [1, 0]), [
    { state: 3, action: 1, reward: 0, nextState: 1 },
    { state: 1, action: 0, reward: 0, nextState: 2 },
  ]);
  assert.throws(() => walkTransitions([3, 1, 2], [1]), RangeError);
  assert.throws(() => new SuccessorLearner({ nStates: 3, nActions: 2 }, { alpha: 0.1, gamma: 0.5, beta: 1 }), /nActions/);
});
