import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareModels, formatComparison, TWO_STEP_MODELS } from '../../../src/core/agents/compare';
import { negLogLikelihood } from '../../../src/core/agents/likelihood';
import { Q_LEARNING } from '../../../src/core/agents/qLearning';
import { REPETITION } from '../../../src/core/agents/repetition';
import { simulateTwoStepBatch } from '../../../src/core/agents/simulate';

test('model comparison picks Q-learning on a Q-learner’s choices', () => {
  const truth = { alpha: 0.5, gamma: 0.9, beta: 6 };
  const { data } = simulateTwoStepBatch(Q_LEARNING, truth, { experiments: 20, episodes: 30, randomEpisodes: 7, seed: 8 });
  const comparison = compareModels(data, TWO_STEP_MODELS, { restarts: 2, seed: 1 });
  assert.equal(comparison.best, 'q-learning');
  assert.deepEqual(
    comparison.rows.map((r) => r.model),
    ['q-learning', 'myopic-q-learning', 'repetition'],
  );
  const byName = Object.fromEntries(comparison.rows.map((r) => [r.model, r]));
  // Myopic Q-learning is Q-learning with gamma = 0, so its optimum cannot beat the full model's.
  assert.ok(byName['q-learning'].nll <= byName['myopic-q-learning'].nll);
  assert.ok(byName['q-learning'].nll <= negLogLikelihood(Q_LEARNING, { ...byName['myopic-q-learning'].params, gamma: 0 }, data) + 1e-6);
  assert.equal(byName['q-learning'].nObservations, 20 * 23 * 2);
  assert.deepEqual(
    comparison.rows.map((r) => r.k),
    [3, 2, 1],
  );
});

test('model comparison picks repetition on a repetition agent’s choices', () => {
  const { data } = simulateTwoStepBatch(REPETITION, { kappa: 2 }, { experiments: 20, episodes: 30, seed: 9 });
  for (const pooling of ['shared', 'per-experiment'] as const) {
    const comparison = compareModels(data, TWO_STEP_MODELS, { restarts: 2, seed: 1, pooling });
    assert.equal(comparison.best, 'repetition', pooling);
    assert.equal(comparison.fits[2].length, pooling === 'shared' ? 1 : 20);
  }
});

test('the comparison table lists the models best first, in Markdown or plain text', () => {
  const { data } = simulateTwoStepBatch(REPETITION, { kappa: 2 }, { experiments: 3, episodes: 10, seed: 2 });
  const comparison = compareModels(data, [Q_LEARNING, REPETITION], { restarts: 1, criterion: 'nll' });
  const markdown = formatComparison(comparison).split('\n');
  assert.equal(markdown[0], '| model | k | n | NLL | AIC | BIC | parameters |');
  assert.equal(markdown[1], '| --- | ---: | ---: | ---: | ---: | ---: | --- |');
  const best = comparison.rows[0];
  assert.ok(markdown[2].startsWith(`| ${best.model} * | ${best.k} | 60 | ${best.nll.toFixed(1)} |`), markdown[2]);
  assert.equal(markdown.at(-1), '* best by NLL (shared parameters)');
  const text = formatComparison(comparison, 'text').split('\n');
  assert.match(text[0], /^model\s+k\s+n\s+NLL\s+AIC\s+BIC\s+parameters$/);
  assert.equal(text.length, 4);
  assert.throws(() => compareModels(data, [REPETITION], { criterion: 'r2' as 'nll' }), /compare\.criterion/);
});
