import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fitModel, fitModelPerExperiment, fromUnbounded, toUnbounded } from '../../../src/core/agents/fit';
import { negLogLikelihood } from '../../../src/core/agents/likelihood';
import { Q_LEARNING } from '../../../src/core/agents/qLearning';
import { REPETITION } from '../../../src/core/agents/repetition';
import { simulateTwoStepBatch } from '../../../src/core/agents/simulate';
import type { ParamSpec } from '../../../src/core/agents/types';
import { ConfigError } from '../../../src/core/config';

const spec = (lower: number, upper: number): ParamSpec => ({ name: 'x', lower, upper, default: 0, description: '' });

test('the unbounded coordinates map back inside the bounds, and round-trip', () => {
  const cases: [ParamSpec, number[]][] = [
    [spec(0, 1), [0.001, 0.3, 0.5, 0.999]],
    [spec(-5, 5), [-4.9, 0, 2.5]],
    [spec(0, Infinity), [1e-3, 1, 250]],
    [spec(-Infinity, 2), [-100, 0, 1.99]],
    [spec(-Infinity, Infinity), [-3, 0, 7]],
  ];
  for (const [p, values] of cases) {
    for (const v of values) assert.ok(Math.abs(fromUnbounded(p, toUnbounded(p, v)) - v) < 1e-9 * Math.max(1, Math.abs(v)));
    for (const x of [-40, -3, 0, 3, 40]) {
      const v = fromUnbounded(p, x);
      assert.ok(v >= p.lower && v <= p.upper, `${v} outside [${p.lower}, ${p.upper}]`);
    }
  }
  // The logit transform is centred on the middle of the range.
  assert.equal(fromUnbounded(spec(-5, 5), 0), 0);
  assert.equal(toUnbounded(spec(0, 1), 0.5), 0);
});

test('the fitted repetition stickiness equals the closed-form maximum-likelihood estimate', () => {
  const batch = simulateTwoStepBatch(REPETITION, { kappa: 1.5 }, { experiments: 4, episodes: 40, randomEpisodes: 5, seed: 11 });
  /*
   * With two actions, P(repeat) = e^kappa / (e^kappa + 1) wherever the state has a
   * previous action, and 1/2 on a first visit. The likelihood is binomial in the
   * repeats R out of m opportunities, so p = R / m, kappa = ln(p / (1 - p)), and
   * NLL = (first visits) ln 2 - R ln p - (m - R) ln(1 - p). Only scored choices
   * count, but an unscored choice still sets the previous action.
   */
  let firstVisits = 0;
  let opportunities = 0;
  let repeats = 0;
  for (const sim of batch.simulations) {
    const last: (number | null)[] = [null, null, null];
    sim.transitions.forEach((t, i) => {
      if (sim.scored[i]) {
        if (last[t.state] === null) firstVisits++;
        else {
          opportunities++;
          if (t.action === last[t.state]) repeats++;
        }
      }
      last[t.state] = t.action;
    });
  }
  const p = repeats / opportunities;
  const kappa = Math.log(p / (1 - p));
  const nll = firstVisits * Math.log(2) - repeats * Math.log(p) - (opportunities - repeats) * Math.log(1 - p);

  const fit = fitModel(REPETITION, batch.data, { restarts: 2, seed: 5 });
  assert.ok(Math.abs(fit.params.kappa - kappa) < 1e-3, `kappa ${fit.params.kappa} vs closed form ${kappa}`);
  assert.ok(Math.abs(fit.nll - nll) < 1e-6, `nll ${fit.nll} vs closed form ${nll}`);
  assert.equal(fit.nObservations, 4 * 35 * 2);
  assert.equal(fit.k, 1);
  assert.equal(fit.aic, 2 + 2 * fit.nll);
  assert.equal(fit.bic, Math.log(280) + 2 * fit.nll);
  // Latents cover every transition, scored or not, in order.
  assert.deepEqual(fit.latents.map((l) => l.length), [80, 80, 80, 80]);
  assert.equal(fit.latents[0][1].previousAction, null);
});

test('per-experiment fits are at least as good as the shared fit, and each is an optimum', () => {
  const batch = simulateTwoStepBatch(Q_LEARNING, { alpha: 0.4, gamma: 0.9, beta: 5 }, { experiments: 4, episodes: 30, seed: 21 });
  const shared = fitModel(Q_LEARNING, batch.data, { restarts: 3, seed: 1 });
  const each = fitModelPerExperiment(Q_LEARNING, batch.data, { restarts: 3, seed: 1 });
  assert.equal(each.length, 4);
  const total = each.reduce((s, f) => s + f.nll, 0);
  assert.ok(total <= shared.nll + 1e-6, `per-experiment ${total} vs shared ${shared.nll}`);
  each.forEach((f, i) => {
    assert.equal(f.nObservations, 60);
    const one = { spec: batch.data.spec, experiments: [batch.data.experiments[i]] };
    assert.ok(f.nll <= negLogLikelihood(Q_LEARNING, shared.params, one) + 1e-6);
    assert.ok(f.nll <= negLogLikelihood(Q_LEARNING, { alpha: 0.4, gamma: 0.9, beta: 5 }, one) + 1e-6);
  });
  // The same seed gives the same fit.
  assert.deepEqual(fitModel(Q_LEARNING, batch.data, { restarts: 3, seed: 1 }).params, shared.params);
});

test('fit options are validated', () => {
  const batch = simulateTwoStepBatch(REPETITION, {}, { experiments: 1, episodes: 2, seed: 1 });
  assert.throws(() => fitModel(REPETITION, batch.data, { restarts: 0 }), ConfigError);
  assert.throws(() => fitModel(REPETITION, batch.data, { restart: 2 } as object), /fit\.restart/);
  const bad = { spec: batch.data.spec, experiments: [{ transitions: [{ state: 0, action: 2, reward: 0, nextState: null }] }] };
  assert.throws(() => fitModel(REPETITION, bad), RangeError);
});
