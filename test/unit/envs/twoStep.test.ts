import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reflect, TwoStepTask, twoStepTransitions } from '../../../src/core/envs/twoStep';
import { ConfigError } from '../../../src/core/config';
import { Rng } from '../../../src/core/random';

test('common transitions happen with the configured probability', () => {
  const task = TwoStepTask.create({}, 3);
  const rng = Rng.fromSeed(4);
  let common = 0;
  const n = 20_000;
  for (let i = 0; i < n; i++) {
    const a = rng.int(0, 2);
    const { secondState, common: c } = task.chooseFirst(a);
    assert.equal(secondState, c ? a : 1 - a);
    if (c) common++;
    task.chooseSecond(rng.int(0, 2));
  }
  // Binomial sd at n = 20000, p = 0.7 is 0.0032.
  assert.ok(Math.abs(common / n - 0.7) < 0.015, `common fraction ${common / n}`);
  assert.equal(task.episode, n);
});

test('reward probabilities drift within bounds at the configured rate', () => {
  const task = TwoStepTask.create({ driftSd: 0.025 }, 5);
  let prev = task.currentRewardProbs;
  let sumSq = 0;
  let n = 0;
  let rewardSum = 0;
  let probSum = 0;
  for (let i = 0; i < 5000; i++) {
    task.chooseFirst(0);
    const ep = task.chooseSecond(1);
    rewardSum += ep.reward;
    probSum += ep.rewardProbs[ep.secondState][1];
    const next = task.currentRewardProbs;
    for (let s = 0; s < 2; s++) {
      for (let a = 0; a < 2; a++) {
        assert.ok(next[s][a] >= 0.25 && next[s][a] <= 0.75);
        const d = next[s][a] - prev[s][a];
        sumSq += d * d;
        n++;
      }
    }
    prev = next;
  }
  // Reflection shortens a few steps, so the empirical sd sits a little under 0.025.
  const sd = Math.sqrt(sumSq / n);
  assert.ok(sd > 0.022 && sd < 0.026, `drift sd ${sd}`);
  // Rewards are Bernoulli draws of the probability in force.
  assert.ok(Math.abs(rewardSum / 5000 - probSum / 5000) < 0.03);
});

test('reflect folds values back into the interval', () => {
  assert.equal(reflect(0.8, 0.25, 0.75), 0.7);
  assert.ok(Math.abs(reflect(0.2, 0.25, 0.75) - 0.3) < 1e-12);
  assert.equal(reflect(0.5, 0.25, 0.75), 0.5);
});

test('a task restored from JSON continues exactly like the original', () => {
  const a = TwoStepTask.create({}, 11);
  a.chooseFirst(1);
  a.chooseSecond(0);
  a.chooseFirst(0);
  const b = TwoStepTask.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
  assert.equal(b.stage, 2);
  const run = (t: TwoStepTask) => {
    const out = [t.chooseSecond(1)];
    for (let i = 0; i < 10; i++) {
      t.chooseFirst(i % 2);
      out.push(t.chooseSecond((i >> 1) % 2));
    }
    return out;
  };
  assert.deepEqual(run(a), run(b));
});

test('episodes become the two transitions a tabular learner sees', () => {
  const t = twoStepTransitions({ firstAction: 1, secondState: 0, common: false, secondAction: 1, reward: 1, rewardProbs: [] });
  assert.deepEqual(t, [
    { state: 0, action: 1, reward: 0, nextState: 1 },
    { state: 1, action: 1, reward: 1, nextState: null },
  ]);
});

test('invalid configurations name the field, the value and what is allowed', () => {
  assert.throws(() => TwoStepTask.create({ commonProb: 1.2 }, 1), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /twoStep\.commonProb = 1\.2 .*probability in \[0, 1\]/);
    return true;
  });
  assert.throws(() => TwoStepTask.create({ rewardMin: 0.8, rewardMax: 0.6 }, 1), /twoStep\.rewardMin = 0\.8/);
  assert.throws(() => TwoStepTask.create({ initialRewardProbs: [[0.5, 0.5]] }, 1), /2 x 2 array/);
  assert.throws(() => TwoStepTask.create({ commonprob: 0.5 } as never, 1), /twoStep\.commonprob .*known option/);
  const task = TwoStepTask.create({}, 1);
  assert.throws(() => task.chooseSecond(0), /expected a first-stage choice/);
  assert.throws(() => task.chooseFirst(2), /action must be 0 or 1/);
});
