import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Q_LEARNING } from '../../../src/core/agents/qLearning';
import { REPETITION } from '../../../src/core/agents/repetition';
import { simulateTwoStep, simulateTwoStepBatch } from '../../../src/core/agents/simulate';
import { SUCCESSOR_REPRESENTATION } from '../../../src/core/agents/successor';
import { createLearner } from '../../../src/core/agents/types';
import { TWO_STEP_SPEC, twoStepTransitions } from '../../../src/core/envs/twoStep';
import { ConfigError } from '../../../src/core/config';

test('a simulation is fixed by its seed, and its transitions are those of its episodes', () => {
  const run = (seed: number) => simulateTwoStep(createLearner(Q_LEARNING, TWO_STEP_SPEC), { episodes: 25, seed, randomEpisodes: 7 });
  const a = run(4);
  assert.deepEqual(run(4), a);
  assert.notDeepEqual(run(5).transitions, a.transitions);
  assert.deepEqual(a.transitions, a.episodes.flatMap(twoStepTransitions));
  assert.deepEqual(a.scored, [...new Array<boolean>(14).fill(false), ...new Array<boolean>(36).fill(true)]);
});

/** Fraction of choices, among those with an earlier choice in the same state, that repeat it. */
function repeatRate(transitions: readonly { state: number; action: number }[]): { rate: number; n: number } {
  const last: (number | null)[] = [null, null, null];
  let n = 0;
  let repeats = 0;
  for (const t of transitions) {
    if (last[t.state] !== null) {
      n++;
      if (last[t.state] === t.action) repeats++;
    }
    last[t.state] = t.action;
  }
  return { rate: repeats / n, n };
}

test('agents choose by their policy, and random episodes ignore it', () => {
  // A repetition agent repeats with probability e^kappa / (1 + e^kappa) = 0.7310585786 for kappa = 1.
  const sticky = simulateTwoStepBatch(REPETITION, { kappa: 1 }, { experiments: 10, episodes: 200, seed: 3 });
  const { rate, n } = repeatRate(sticky.simulations.flatMap((s) => s.transitions));
  const p = Math.E / (1 + Math.E);
  assert.ok(Math.abs(rate - p) < 4 * Math.sqrt((p * (1 - p)) / n), `repeat rate ${rate} over ${n}`);

  const random = simulateTwoStepBatch(REPETITION, { kappa: 5 }, { experiments: 10, episodes: 200, randomEpisodes: 200, seed: 3 });
  const uniform = repeatRate(random.simulations.flatMap((s) => s.transitions));
  assert.ok(Math.abs(uniform.rate - 0.5) < 4 * Math.sqrt(0.25 / uniform.n), `random repeat rate ${uniform.rate}`);
  assert.ok(random.simulations.every((s) => s.scored.every((v) => !v)));
});

test('a Q-learner earns more than chance on the two-step task', () => {
  const reward = (randomEpisodes: number) => {
    const params = { alpha: 0.5, gamma: 0.9, beta: 10 };
    const batch = simulateTwoStepBatch(Q_LEARNING, params, { experiments: 100, episodes: 100, randomEpisodes, seed: 6 });
    const episodes = batch.simulations.flatMap((s) => s.episodes);
    return episodes.reduce((s, e) => s + e.reward, 0) / episodes.length;
  };
  // Both runs see the same task draws (the task's stream does not depend on the choices); over
  // seeds the gain is 0.027-0.047 with a spread of about 0.007, so 0.015 is a safe floor.
  const learned = reward(0);
  const chance = reward(100);
  assert.ok(learned > chance + 0.015, `learner ${learned} vs random ${chance}`);
});

test('simulation options and the agent are checked', () => {
  assert.throws(() => simulateTwoStep(createLearner(Q_LEARNING, TWO_STEP_SPEC), { episodes: -1 }), ConfigError);
  assert.throws(() => simulateTwoStep(createLearner(Q_LEARNING, TWO_STEP_SPEC), { episode: 3 } as object), /simulation\.episode/);
  const sr = createLearner(SUCCESSOR_REPRESENTATION, { nStates: 3, nActions: 3 });
  assert.throws(() => simulateTwoStep(sr), /agent\.spec/);
  const batch = simulateTwoStepBatch(Q_LEARNING, (i) => ({ alpha: 0.1 * (i + 1) }), { experiments: 3, episodes: 2, seed: 1 });
  assert.deepEqual(
    batch.params.map((p) => p.alpha),
    [0.1, 0.2, 0.1 * 3],
  );
  assert.equal(batch.params[0].gamma, 0.9);
  assert.equal(batch.data.experiments.length, 3);
});
