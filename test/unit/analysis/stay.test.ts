import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stayProbabilities } from '../../../src/core/analysis/stay';
import type { TwoStepEpisode } from '../../../src/core/envs/twoStep';
import { Rng } from '../../../src/core/random';
import { twoStepBatch } from '../../../src/core/simulation';

const trip = (firstAction: number, secondState: number, common: boolean, secondAction: number, reward: number): TwoStepEpisode =>
  ({ firstAction, secondState, common, secondAction, reward, rewardProbs: [[0.5, 0.5], [0.5, 0.5]] }) as TwoStepEpisode;

test('stay probabilities count each repeat under what followed the last choice, counted by hand', () => {
  const episodes = [
    trip(0, 0, true, 0, 1), // A to X, alien C, treasure
    trip(0, 1, false, 0, 0), // A again after treasure (common); on Y for the first time
    trip(1, 0, false, 0, 0), // B after none (rare); C again on X, where it gave treasure
    trip(1, 1, true, 1, 1), // B again after none (rare); F on Y, where E gave none
    trip(1, 1, true, 1, 1), // B again after treasure (common); F again after treasure
  ];
  const all = stayProbabilities([{ episodes }]);
  assert.deepEqual([all.spaceship.rewarded.common.mean, all.spaceship.rewarded.common.n], [1, 2]);
  assert.deepEqual([all.spaceship.unrewarded.rare.mean, all.spaceship.unrewarded.rare.n], [0.5, 2]);
  assert.equal(all.spaceship.rewarded.rare.n + all.spaceship.unrewarded.common.n, 0);
  assert.deepEqual([all.alien.rewarded.mean, all.alien.rewarded.n], [1, 2]);
  assert.deepEqual([all.alien.unrewarded.mean, all.alien.unrewarded.n], [0, 1]);
  // From trip 3 on, the earlier trips still say what was chosen last, but their own choices are not counted.
  const late = stayProbabilities([{ episodes }], 3);
  assert.deepEqual([late.spaceship.unrewarded.rare.mean, late.spaceship.unrewarded.rare.n, late.spaceship.rewarded.common.n], [1, 1, 1]);
  assert.deepEqual([late.alien.unrewarded.n, late.alien.unrewarded.mean, late.alien.rewarded.n], [1, 0, 1]);
});

test('each cell recovers the stay probability a synthetic player was given for it', () => {
  // A player that stays with a probability set per cell: the four spaceship cells and the two alien cells all differ.
  const spaceship: Record<string, number> = { 'true true': 0.9, 'true false': 0.6, 'false true': 0.35, 'false false': 0.75 };
  const alien: Record<string, number> = { true: 0.85, false: 0.2 };
  const rng = Rng.fromSeed(11);
  const experiments = Array.from({ length: 150 }, () => {
    const episodes: TwoStepEpisode[] = [];
    const last = new Map<number, { alien: number; reward: number }>();
    for (let t = 0; t < 30; t++) {
      const before = episodes[t - 1];
      const firstAction = before === undefined ? rng.int(0, 2) : rng.uniform() < spaceship[`${before.reward > 0} ${before.common}`] ? before.firstAction : 1 - before.firstAction;
      const common = rng.uniform() < 0.7;
      const secondState = common ? firstAction : 1 - firstAction;
      const previous = last.get(secondState);
      const secondAction = previous === undefined ? rng.int(0, 2) : rng.uniform() < alien[`${previous.reward > 0}`] ? previous.alien : 1 - previous.alien;
      const reward = rng.uniform() < 0.5 ? 1 : 0;
      episodes.push(trip(firstAction, secondState, common, secondAction, reward));
      last.set(secondState, { alien: secondAction, reward });
    }
    return { episodes };
  });
  const s = stayProbabilities(experiments);
  const found: [number, number, number][] = [
    [s.spaceship.rewarded.common.mean, spaceship['true true'], s.spaceship.rewarded.common.n],
    [s.spaceship.rewarded.rare.mean, spaceship['true false'], s.spaceship.rewarded.rare.n],
    [s.spaceship.unrewarded.common.mean, spaceship['false true'], s.spaceship.unrewarded.common.n],
    [s.spaceship.unrewarded.rare.mean, spaceship['false false'], s.spaceship.unrewarded.rare.n],
    [s.alien.rewarded.mean, alien.true, s.alien.rewarded.n],
    [s.alien.unrewarded.mean, alien.false, s.alien.unrewarded.n],
  ];
  for (const [got, expected, n] of found) {
    assert.ok(n > 400, `n ${n}`);
    // Within about three standard errors of a proportion over n choices.
    assert.ok(Math.abs(got - expected) < 3 * Math.sqrt((expected * (1 - expected)) / n), `${got} against ${expected} (n ${n})`);
  }
});

test('generating Q-learners stay more after treasure than after none, at both stages', () => {
  const s = stayProbabilities(twoStepBatch({ experiments: 100, episodes: 30, seed: 7001, randomEpisodes: 7 }), 7);
  assert.ok(s.alien.rewarded.ci95[0] > s.alien.unrewarded.ci95[1]);
  assert.ok(s.spaceship.rewarded.common.ci95[0] > s.spaceship.unrewarded.common.ci95[1]);
});
