import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareModels, COPY_BEST, COPY_BEST_PERSEVERATION, createLearner, Q_LEARNING, simulateTwoStepBatch } from '../../../src/core/agents';
import { TWO_STEP_SPEC } from '../../../src/core/envs/twoStep';
import type { Transition } from '../../../src/core/envs/types';

/** A two-step episode as its two transitions: first choice, planet (0 or 1), alien, reward. */
function episode(first: number, planet: number, alien: number, reward: number): Transition[] {
  return [
    { state: 0, action: first, reward: 0, nextState: 1 + planet },
    { state: 1 + planet, action: alien, reward, nextState: null },
  ];
}

test('copy-best favours the action of the best earlier episode in each state, the newest among equals', () => {
  const beta = 2;
  const learner = createLearner(COPY_BEST, TWO_STEP_SPEC, { beta });
  const favoured = Math.exp(beta) / (1 + Math.exp(beta));
  const p1 = (state: number) => learner.probs(state)[1];

  // Before any rewarded episode: uniform everywhere.
  for (const t of episode(1, 0, 1, 0)) learner.learn(t);
  assert.deepEqual([p1(0), p1(1), p1(2)], [0.5, 0.5, 0.5]);

  // Rewarded: first choice 0, planet 1 (state 2), alien 1.
  const [first, second] = episode(0, 1, 1, 1);
  const seen = learner.observe(first);
  assert.equal(seen.bestAction, null);
  // An episode counts only once it has ended.
  assert.equal(p1(0), 0.5);
  learner.observe(second);
  assert.ok(Math.abs(p1(0) - (1 - favoured)) < 1e-12);
  assert.ok(Math.abs(p1(2) - favoured) < 1e-12);
  assert.equal(p1(1), 0.5, 'planet 0 was never reached in a rewarded episode');

  // An unrewarded episode changes nothing; an equally good newer one takes over the first stage, and planet 0 gets its alien.
  for (const t of episode(1, 1, 0, 0)) learner.learn(t);
  assert.ok(Math.abs(p1(0) - (1 - favoured)) < 1e-12);
  for (const t of episode(1, 0, 0, 1)) learner.learn(t);
  assert.ok(Math.abs(p1(0) - favoured) < 1e-12);
  assert.ok(Math.abs(p1(1) - (1 - favoured)) < 1e-12);
  assert.ok(Math.abs(p1(2) - favoured) < 1e-12);
  const latents = learner.observe(episode(0, 1, 0, 0)[0]);
  assert.deepEqual([latents.bestAction, latents.bestReturn], [1, 1]);
  assert.ok(Math.abs(latents.logProb - Math.log(1 - favoured)) < 1e-12);
});

test('perseveration adds its bonus to the action last taken in the state', () => {
  const learner = createLearner(COPY_BEST_PERSEVERATION, TWO_STEP_SPEC, { beta: 1, kappa: 0.5 });
  for (const t of episode(1, 0, 0, 0)) learner.learn(t);
  const expected = Math.exp(0.5) / (1 + Math.exp(0.5));
  assert.ok(Math.abs(learner.probs(0)[1] - expected) < 1e-12);
  for (const t of episode(0, 0, 0, 1)) learner.learn(t);
  // Best and last are both action 0 now: logits 1.5 vs 0.
  assert.ok(Math.abs(learner.probs(0)[0] - Math.exp(1.5) / (1 + Math.exp(1.5))) < 1e-12);
});

test('model comparison tells copy-best from Q-learning, each on its own data', () => {
  const options = { experiments: 12, episodes: 40, randomEpisodes: 3 };
  const copyData = simulateTwoStepBatch(COPY_BEST, { beta: 3 }, { ...options, seed: 1 }).data;
  const qData = simulateTwoStepBatch(Q_LEARNING, { alpha: 0.3, gamma: 0.9, beta: 6 }, { ...options, seed: 2 }).data;
  const fit = { criterion: 'bic' as const, restarts: 2, seed: 0 };
  const onCopy = compareModels(copyData, [Q_LEARNING, COPY_BEST], fit);
  const onQ = compareModels(qData, [Q_LEARNING, COPY_BEST], fit);
  assert.equal(onCopy.best, COPY_BEST.name, JSON.stringify(onCopy.rows.map((r) => [r.model, r.bic])));
  assert.equal(onQ.best, Q_LEARNING.name, JSON.stringify(onQ.rows.map((r) => [r.model, r.bic])));
  const beta = onCopy.rows.find((r) => r.model === COPY_BEST.name)!.params.beta;
  assert.ok(Math.abs(beta - 3) < 1, `recovered beta ${beta}`);
});
