import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GRID_ACTIONS } from '../../../src/core/envs/gridWorld';
import { TASK_KINDS } from '../../../src/core/envs/types';
import { simulateTask, summariseTwoStep, twoStepBatch } from '../../../src/core/simulation';

test('every answer span, transition and latent describe the same step', () => {
  for (const task of TASK_KINDS) {
    const { records } = simulateTask(task, { experiments: 3, episodes: 6, seed: 5 });
    for (const r of records) {
      const { spans, text } = r.transcript;
      assert.equal(spans.length, r.transitions.length, task);
      assert.equal(r.latents.length, r.transitions.length, task);
      spans.forEach((span, i) => {
        const t = r.transitions[i];
        assert.equal(text.slice(span.start, span.end), span.answer);
        assert.equal(r.latents[i].action, t.action);
        if (task === 'grid') assert.equal(span.answer, GRID_ACTIONS[t.action]);
        if (task === 'graph') assert.equal(span.answer, (r.env as { words: string[] }).words[t.nextState!]);
        if (task === 'two-step') assert.equal(span.allowed.indexOf(span.answer), t.action);
      });
    }
  }
});

test('the same seed gives byte-identical records, another seed different ones', () => {
  for (const task of TASK_KINDS) {
    const a = JSON.stringify(simulateTask(task, { experiments: 2, episodes: 5, seed: 9 }).records);
    const b = JSON.stringify(simulateTask(task, { experiments: 2, episodes: 5, seed: 9 }).records);
    const c = JSON.stringify(simulateTask(task, { experiments: 2, episodes: 5, seed: 10 }).records);
    assert.equal(a, b, task);
    assert.notEqual(a, c, task);
  }
});

test('two-step agents earn more than a random policy on the same tasks, after the random episodes', () => {
  const records = twoStepBatch({ experiments: 60, episodes: 30, seed: 1, agents: { alpha: [0.5, 0.5], gamma: [0.9, 0.9], beta: [8, 8], kappa: [0, 0] } });
  // Random opening episodes are recorded as unscored choices.
  assert.deepEqual(records[0].scored.slice(0, 14), new Array(14).fill(false));
  assert.equal(records[0].scored[14], true);
  const s = summariseTwoStep(records);
  assert.equal(s.randomEpisodes, 7);
  assert.ok(s.agentReward.ci95[0] > s.randomReward.mean, `agent ${s.agentReward.mean} vs random ${s.randomReward.mean}`);
  assert.equal(s.comparison.best, 'q-learning');
});

test('an unknown task is refused with the allowed values', () => {
  assert.throws(() => simulateTask('bandit' as never), /task = "bandit" is not allowed: one of 'two-step', 'grid', 'graph'/);
});
