import assert from 'node:assert/strict';
import { test } from 'node:test';
import { latentsOf, negLogLikelihood } from '../../../src/core/agents/likelihood';
import { MYOPIC_Q_LEARNING, Q_LEARNING, Q_LEARNING_PERSEVERATION, QLearner } from '../../../src/core/agents/qLearning';
import { simulateTwoStepBatch } from '../../../src/core/agents/simulate';
import { createLearner } from '../../../src/core/agents/types';
import type { Transition } from '../../../src/core/envs/types';
import { TWO_STEP_SPEC } from '../../../src/core/envs/twoStep';

const close = (actual: number, expected: number, tol = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);

/*
 * A hand-worked example: two episodes of the two-step task (states 0 = first
 * stage, 1 and 2 = second-stage states), alpha = 0.5, gamma = 0.9, beta = 2,
 * kappa = 1. Q starts at 0 everywhere.
 *
 * step 1: s=0, a=1, r=0, s'=2.  No earlier action in state 0: logits (0, 0), p = (1/2, 1/2).
 *         delta = 0 + 0.9 * max(Q(2,0), Q(2,1)) - Q(0,1) = 0 + 0.9 * 0 - 0 = 0;  Q(0,1) = 0 + 0.5 * 0 = 0.
 * step 2: s=2, a=0, r=1, end.  No earlier action in state 2: p = (1/2, 1/2).
 *         delta = 1 + 0 - Q(2,0) = 1 - 0 = 1;  Q(2,0) = 0 + 0.5 * 1 = 0.5.
 * step 3: s=0, a=1, r=0, s'=2.  Q(0,·) = (0, 0), last action in state 0 was 1:
 *         logits (2*0, 2*0 + 1) = (0, 1), p(1) = e / (1 + e) = 2.718281828 / 3.718281828 = 0.7310585786.
 *         delta = 0 + 0.9 * max(0.5, 0) - 0 = 0.45;  Q(0,1) = 0 + 0.5 * 0.45 = 0.225.
 *         qDiff (chosen minus other, before) = 0 - 0 = 0.
 * step 4: s=2, a=0, r=0, end.  Q(2,·) = (0.5, 0), last action in state 2 was 0:
 *         logits (2*0.5 + 1, 2*0) = (2, 0), p(0) = e^2 / (1 + e^2) = 7.389056099 / 8.389056099 = 0.8807970780.
 *         delta = 0 + 0 - 0.5 = -0.5;  Q(2,0) = 0.5 + 0.5 * (-0.5) = 0.25.  qDiff = 0.5 - 0 = 0.5.
 *
 * NLL = ln 2 + ln 2 + ln(1 + e^-1) + ln(1 + e^-2)
 *     = 0.6931471806 + 0.6931471806 + 0.3132616875 + 0.1269280110 = 1.8264840597.
 * Final Q: Q(0,·) = (0, 0.225), Q(1,·) = (0, 0), Q(2,·) = (0.25, 0).
 */
const EXAMPLE: Transition[] = [
  { state: 0, action: 1, reward: 0, nextState: 2 },
  { state: 2, action: 0, reward: 1, nextState: null },
  { state: 0, action: 1, reward: 0, nextState: 2 },
  { state: 2, action: 0, reward: 0, nextState: null },
];
const PARAMS = { alpha: 0.5, gamma: 0.9, beta: 2, kappa: 1 };

test('Q-learning reproduces the hand-worked TD errors, Q-values and choice probabilities', () => {
  const learner = createLearner(Q_LEARNING_PERSEVERATION, TWO_STEP_SPEC, PARAMS);
  const steps = EXAMPLE.map((t) => learner.observe(t));
  [0, 1, 0.45, -0.5].forEach((d, i) => close(steps[i].tdError, d));
  assert.deepEqual(steps.map((s) => s.qValues), [[0, 0], [0, 0], [0, 0], [0.5, 0]]);
  assert.deepEqual(steps.map((s) => s.qValuesAfter), [[0, 0], [0.5, 0], [0, 0.225], [0.25, 0]]);
  assert.deepEqual(steps.map((s) => s.qChosen), [0, 0, 0, 0.5]);
  assert.deepEqual(steps.map((s) => s.qDiff), [0, 0, 0, 0.5]);
  [0, 0, 0.5, 0].forEach((v, i) => close(steps[i].nextValue, v));
  close(steps[0].probs[1], 0.5);
  close(steps[1].probs[0], 0.5);
  close(steps[2].probs[1], 0.7310585786);
  close(steps[3].probs[0], 0.880797078);
  close(steps[3].logProb, Math.log(0.880797078));
  assert.deepEqual([0, 1, 2].map((s) => (learner as QLearner).values(s)), [[0, 0.225], [0, 0], [0.25, 0]]);
});

test('the likelihood of the hand-worked example is the sum worked by hand', () => {
  const data = { spec: TWO_STEP_SPEC, experiments: [{ transitions: EXAMPLE }] };
  close(negLogLikelihood(Q_LEARNING_PERSEVERATION, PARAMS, data), 1.8264840597);
  const latents = latentsOf(Q_LEARNING_PERSEVERATION, PARAMS, data)[0];
  close(-latents.reduce((s, l) => s + l.logProb, 0), 1.8264840597);
  // Scoring only the last two choices leaves ln(1 + e^-1) + ln(1 + e^-2).
  const partial = { spec: TWO_STEP_SPEC, experiments: [{ transitions: EXAMPLE, scored: [false, false, true, true] }] };
  close(negLogLikelihood(Q_LEARNING_PERSEVERATION, PARAMS, partial), 0.4401896985);
});

test('myopic Q-learning does not propagate the second-stage value to the first stage', () => {
  // gamma = 0: step 3's delta is 0 + 0 * 0.5 - 0 = 0, so Q(0,1) stays 0.
  const learner = createLearner(MYOPIC_Q_LEARNING, TWO_STEP_SPEC, { alpha: 0.5, beta: 2 });
  const deltas = EXAMPLE.map((t) => learner.observe(t).tdError);
  assert.deepEqual(deltas, [0, 1, 0, -0.5]);
  assert.deepEqual((learner as QLearner).values(0), [0, 0]);
  assert.equal(MYOPIC_Q_LEARNING.params.some((p) => p.name === 'gamma'), false);
});

/** A second, plain implementation of the same likelihood, written from the equations. */
function referenceNll(transitions: readonly Transition[], p: typeof PARAMS): number {
  const q = [0, 0, 0].map(() => [0, 0]);
  const last: (number | null)[] = [null, null, null];
  let nll = 0;
  for (const t of transitions) {
    const z = q[t.state].map((v, a) => p.beta * v + (last[t.state] === a ? p.kappa : 0));
    const norm = Math.log(Math.exp(z[0]) + Math.exp(z[1]));
    nll -= z[t.action] - norm;
    const future = t.nextState === null ? 0 : Math.max(...q[t.nextState]);
    q[t.state][t.action] += p.alpha * (t.reward + p.gamma * future - q[t.state][t.action]);
    last[t.state] = t.action;
  }
  return nll;
}

test('the fast likelihood agrees with a plain reference implementation on simulated data', () => {
  const truth = { alpha: 0.3, gamma: 0.8, beta: 4, kappa: 0.7 };
  const batch = simulateTwoStepBatch(Q_LEARNING_PERSEVERATION, truth, { experiments: 5, episodes: 40, seed: 3 });
  for (const p of [PARAMS, { alpha: 0.1, gamma: 0.3, beta: 9, kappa: -1.5 }]) {
    const expected = batch.simulations.reduce((s, sim) => s + referenceNll(sim.transitions, p), 0);
    close(negLogLikelihood(Q_LEARNING_PERSEVERATION, p, batch.data), expected, 1e-9);
  }
  // Without perseveration the model is the same learner with kappa = 0.
  const noKappa = { ...PARAMS, kappa: 0 };
  const expected = batch.simulations.reduce((s, sim) => s + referenceNll(sim.transitions, noKappa), 0);
  close(negLogLikelihood(Q_LEARNING, noKappa, batch.data), expected, 1e-9);
});

test('probabilities are a distribution and logProb is their logarithm', () => {
  const learner = createLearner(Q_LEARNING_PERSEVERATION, TWO_STEP_SPEC, { alpha: 0.9, beta: 20, kappa: -5 });
  for (const t of EXAMPLE) {
    const p = learner.probs(t.state);
    close(p[0] + p[1], 1, 1e-12);
    close(learner.logProb(t.state, 1), Math.log(p[1]), 1e-12);
    learner.learn(t);
  }
});

test('parameters are checked at the boundary', () => {
  assert.throws(() => createLearner(Q_LEARNING, TWO_STEP_SPEC, { alpha: 1.5 }), /q-learning\.alpha = 1\.5/);
  assert.throws(() => createLearner(Q_LEARNING, TWO_STEP_SPEC, { kappa: 1 }), /q-learning\.kappa/);
  assert.throws(() => createLearner(Q_LEARNING, TWO_STEP_SPEC).observe({ state: 3, action: 0, reward: 0, nextState: null }), RangeError);
});
