import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  firstStageTargets,
  gatherRows,
  graphTargets,
  gridTargets,
  rewardTokenTargets,
  selectTargets,
  targetColumn,
  targetFamily,
  TARGET_DESCRIPTIONS,
  twoStepTargets,
} from '../../../src/core/analysis/targets';
import { CommunityGraph } from '../../../src/core/envs/communityGraph';
import { graphBatch, gridBatch, twoStepBatch } from '../../../src/core/simulation';
import { pearson } from '../../../src/core/stats';

const close = (a: number, b: number) => Math.abs(a - b) < 1e-12;

test('two-step targets: the previous transition\u2019s TD error and the current state\u2019s values, replayed by hand', () => {
  const records = twoStepBatch({ experiments: 3, episodes: 8, seed: 5, randomEpisodes: 2 });
  const table = twoStepTargets(records.map((r) => r.latents));
  assert.deepEqual(table.names, ['tdError', 'tdErrorCurrent', 'qChosen', 'qDiff', 'q0', 'q1', 'maxQ', 'tdErrorDetrended', 'qChosenDetrended', 'qDiffDetrended']);
  // The first answer point of each experiment has no previous transition.
  assert.equal(table.groups.length, 3 * (16 - 1));
  assert.equal(table.rows, null);
  let row = 0;
  records.forEach((rec, e) => {
    const { alpha, gamma } = rec.agent.params;
    const q = [0, 0, 0, 0, 0, 0];
    let previousDelta = NaN;
    rec.transitions.forEach((t, i) => {
      const next = t.nextState === null ? 0 : Math.max(q[2 * t.nextState], q[2 * t.nextState + 1]);
      const delta = t.reward + gamma * next - q[2 * t.state + t.action];
      if (i > 0) {
        assert.equal(table.groups[row], e);
        assert.equal(table.steps[row], i);
        const at = (name: string) => targetColumn(table, name)[row];
        assert.ok(close(at('tdError'), previousDelta), `experiment ${e} step ${i}`);
        assert.ok(close(at('tdErrorCurrent'), delta));
        assert.ok(close(at('qChosen'), q[2 * t.state + t.action]));
        assert.ok(close(at('qDiff'), q[2 * t.state + 1] - q[2 * t.state]));
        assert.ok(close(at('maxQ'), Math.max(at('q0'), at('q1'))));
        row++;
      }
      q[2 * t.state + t.action] += alpha * delta;
      previousDelta = delta;
    });
  });
  for (const name of table.names) assert.ok(name in TARGET_DESCRIPTIONS['two-step'], `${name} is described`);
});

test('first-stage targets: the pooled table\u2019s rows at the first-stage choices, with the same values and prefixed names', () => {
  const records = twoStepBatch({ experiments: 3, episodes: 8, seed: 5, randomEpisodes: 2 });
  const latents = records.map((r) => r.latents);
  let next = 0;
  const rows = latents.map((steps) => steps.map(() => next++));
  const pooled = twoStepTargets(latents, { rows });
  // A caller's own filter still applies: here the last experiment is left out.
  const first = firstStageTargets(latents, { rows, keep: (e) => e < 2 });
  assert.deepEqual(first.names, pooled.names.map((n) => `firstStage.${n}`));
  // Two choices per episode, the first-stage one first: steps 2, 4, ..., 14 of experiments 0 and 1.
  assert.equal(first.groups.length, 2 * 7);
  for (let k = 0; k < first.groups.length; k++) {
    const e = first.groups[k];
    const i = first.steps[k];
    assert.ok(e < 2 && i % 2 === 0 && i > 0 && latents[e][i].state === 0, `row ${k}`);
    const at = pooled.rows!.indexOf(first.rows![k]);
    assert.ok(at >= 0);
    // A detrended column's means are over the rows kept, which differ here (the filter), so only the raw columns are compared.
    pooled.names.forEach((name, c) => name.endsWith('Detrended') || assert.equal(first.columns[c][k], pooled.columns[c][at], name));
    // At a first-stage choice the newest outcome is the last trip's reward: the TD error is r - Q(planet, alien).
    const last = latents[e][i - 1];
    assert.ok(close(targetColumn(first, 'firstStage.tdError')[k], last.tdError) && last.nextState === null);
  }
  for (const name of first.names) assert.ok(name in TARGET_DESCRIPTIONS['two-step'], `${name} is described`);
});

test('reward-token targets: one row per trip\u2019s reward read before the next spaceship choice; tdOff is minus the expectation, centred per reward', () => {
  const records = twoStepBatch({ experiments: 4, episodes: 10, seed: 9, randomEpisodes: 2 });
  const latents = records.map((r) => r.latents);
  // The store row of each reward token, given at the spaceship choice that follows it (as play does).
  let next = 100;
  const rows = latents.map((steps) => steps.map((l, i) => (i > 0 && l.state === 0 ? next++ : null)));
  const table = rewardTokenTargets(latents, { rows, keep: (e) => e !== 3 });
  assert.deepEqual(table.names, ['rewardToken.tdError', 'rewardToken.reward', 'rewardToken.tdOff', 'rewardToken.qChosen', 'rewardToken.tdErrorDetrended']);
  // Trips 1 .. 9 of experiments 0-2: the last trip's reward is never followed by a choice.
  assert.equal(table.groups.length, 3 * 9);
  const at = (name: string, k: number) => targetColumn(table, `rewardToken.${name}`)[k];
  for (let k = 0; k < table.groups.length; k++) {
    const e = table.groups[k];
    const i = table.steps[k];
    assert.equal(table.rows![k], rows[e][i]);
    // Replayed by hand: the alien asked on trip i / 2 - 1, its reward, and Q-learning's error there (no future value).
    const { alpha } = records[e].agent.params;
    const trip = records[e].transitions[i - 1];
    assert.ok(trip.nextState === null && trip.state > 0);
    const q = new Map<string, number>();
    records[e].transitions.slice(0, i - 1).forEach((t, j) => {
      const key = `${t.state},${t.action}`;
      if (t.nextState === null) q.set(key, (q.get(key) ?? 0) + alpha * (t.reward - (q.get(key) ?? 0)));
      else assert.equal(j % 2, 0);
    });
    const expectation = q.get(`${trip.state},${trip.action}`) ?? 0;
    assert.ok(close(at('qChosen', k), expectation), `experiment ${e} step ${i}`);
    assert.equal(at('reward', k), trip.reward);
    assert.ok(close(at('tdError', k), trip.reward - expectation));
  }
  // tdOff: the TD error less its mean among rows with the same reward, which is minus Q centred the same way.
  const reward = targetColumn(table, 'rewardToken.reward');
  const off = targetColumn(table, 'rewardToken.tdOff');
  const q = targetColumn(table, 'rewardToken.qChosen');
  for (const r of [0, 1]) {
    const ks = [...reward.keys()].filter((k) => reward[k] === r);
    assert.ok(ks.length > 2, `reward ${r} rows`);
    const meanQ = ks.reduce((s, k) => s + q[k], 0) / ks.length;
    for (const k of ks) assert.ok(Math.abs(off[k] + (q[k] - meanQ)) < 1e-12);
  }
  assert.ok(Math.abs(pearson(off, reward)) < 1e-12);
  for (const name of table.names) assert.ok(name in TARGET_DESCRIPTIONS['two-step'], `${name} is described`);
});

test('detrended columns: the column less its mean over the experiments at each answer point, blind to any clock', () => {
  const records = twoStepBatch({ experiments: 30, episodes: 12, seed: 17, randomEpisodes: 2 });
  const latents = records.map((r) => r.latents);
  for (const table of [twoStepTargets(latents), firstStageTargets(latents), gridTargets(gridBatch({ experiments: 12, episodes: 3, seed: 4 }).map((r) => r.latents))]) {
    const prefix = table.names[0].startsWith('firstStage.') ? 'firstStage.' : '';
    const raw = targetColumn(table, `${prefix}tdError`);
    const detrended = targetColumn(table, `${prefix}tdErrorDetrended`);
    // Recomputed by hand: each answer point's mean over the experiments that reach it.
    const byStep = new Map<number, number[]>();
    table.steps.forEach((i, k) => byStep.set(i, [...(byStep.get(i) ?? []), k]));
    for (const ks of byStep.values()) {
      const m = ks.reduce((s, k) => s + raw[k], 0) / ks.length;
      for (const k of ks) assert.ok(Math.abs(detrended[k] - (raw[k] - m)) < 1e-12);
    }
    // The TD error drifts over the task (values start at 0): the best clock, each point's own mean, follows the raw column and not the detrended one.
    const means = new Map([...byStep].map(([i, ks]) => [i, ks.reduce((s, k) => s + raw[k], 0) / ks.length]));
    const clock = Float64Array.from(table.steps, (i) => means.get(i)!);
    const stage = Float64Array.from(table.steps, (i) => i % 2);
    assert.ok(pearson(clock, raw) > 0.1, `${prefix}: the raw TD error drifts (r ${pearson(clock, raw)})`);
    assert.ok(Math.abs(pearson(clock, detrended)) < 1e-12 && (prefix !== '' || Math.abs(pearson(stage, detrended)) < 1e-12));
    // The variation between experiments at one point is kept: the two columns still agree closely.
    assert.ok(pearson(raw, detrended) > 0.8);
  }
});

test('row ids join targets to store rows; null ids and filtered points are left out', () => {
  const records = twoStepBatch({ experiments: 2, episodes: 3, seed: 1, randomEpisodes: 0 });
  const latents = records.map((r) => r.latents);
  // Store rows numbered in recording order, as the recorder does; one point was not recorded.
  let next = 0;
  const rows = latents.map((steps) => steps.map(() => next++) as (number | null)[]);
  rows[1][3] = null;
  const table = twoStepTargets(latents, { rows, keep: (e, i) => !(e === 0 && i === 2) });
  assert.deepEqual(Array.from(table.rows!), [1, 3, 4, 5, 7, 8, 10, 11]);
  assert.deepEqual(Array.from(table.steps), [1, 3, 4, 5, 1, 2, 4, 5]);
  const store = Float32Array.from({ length: next * 2 }, (_, k) => k);
  assert.deepEqual(Array.from(gatherRows(store, 2, [3, 0])), [6, 7, 0, 1]);
  assert.throws(() => gatherRows(store, 2, [next]), /not among the 12 rows/);
  assert.throws(() => twoStepTargets(latents, { rows: [rows[0]] }), /row ids for 1 experiments/);
});

test('grid targets have one Q column per action and QLatents\u2019 own qDiff', () => {
  const records = gridBatch({ experiments: 2, episodes: 2, seed: 3 });
  const table = gridTargets(records.map((r) => r.latents));
  assert.deepEqual(table.names, ['tdError', 'tdErrorCurrent', 'qChosen', 'qDiff', 'q[0]', 'q[1]', 'q[2]', 'q[3]', 'maxQ', 'tdErrorDetrended', 'qChosenDetrended']);
  let row = 0;
  records.forEach((rec) => {
    for (let i = 1; i < rec.latents.length; i++, row++) {
      const now = rec.latents[i];
      assert.equal(targetColumn(table, 'tdError')[row], rec.latents[i - 1].tdError);
      assert.equal(targetColumn(table, 'qDiff')[row], now.qDiff);
      assert.equal(targetColumn(table, `q[${now.action}]`)[row], now.qChosen);
      assert.equal(targetColumn(table, 'maxQ')[row], Math.max(...now.qValues));
    }
  });
  assert.equal(row, table.groups.length);
  for (const name of table.names) {
    const key = name.includes('[') ? `${targetFamily(name)}[j]` : name;
    assert.ok(key in TARGET_DESCRIPTIONS.grid, `${name} is described`);
  }
});

test('graph targets: SR rows, the previous step\u2019s SR TD errors, transition probabilities, the current node and surprise, replayed by hand', () => {
  const records = graphBatch({ experiments: 1, episodes: 3, seed: 9 });
  const rec = records[0];
  const graph = CommunityGraph.create(rec.env, 0);
  const matrix = graph.transitionMatrix();
  const table = graphTargets([rec.latents], { transitionMatrix: matrix });
  const n = graph.size;
  assert.equal(table.names.length, 5 * n + 3);
  const { alpha, gamma, beta } = rec.agent.params;
  const m: number[][] = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  let previous: number[] = [];
  rec.transitions.forEach((t, i) => {
    const s = t.state;
    const next = t.nextState!;
    const delta = m[s].map((v, j) => (j === s ? 1 : 0) + gamma * m[next][j] - v);
    if (i > 0) {
      const at = (name: string) => targetColumn(table, name)[i - 1];
      for (let j = 0; j < n; j++) {
        assert.ok(close(at(`sr[${j}]`), m[s][j]));
        assert.ok(close(at(`srTd[${j}]`), previous[j]));
        assert.equal(at(`trans[${j}]`), matrix[s][j]);
        assert.equal(at(`node[${j}]`), j === s ? 1 : 0);
      }
      assert.ok(close(at('srNext'), m[s][next]));
      const z = m[s].reduce((acc, v, j) => acc + (j === s ? 0 : Math.exp(beta * v)), 0);
      const p = Math.exp(beta * m[s][next]) / z;
      assert.ok(Math.abs(at('pNext') - p) < 1e-12);
      assert.ok(Math.abs(at('surprise') + Math.log(p)) < 1e-10);
    }
    m[s] = m[s].map((v, j) => v + alpha * delta[j]);
    previous = delta;
  });
  assert.deepEqual(selectTargets(table, ['surprise', 'sr[0]']).names, ['surprise', 'sr[0]']);
  assert.throws(() => targetColumn(table, 'qDiff'), /no target 'qDiff'/);
  assert.throws(() => graphTargets([rec.latents], { transitionMatrix: [[1]] }), /transition matrix must be 15 x 15/);
});

test('graph targets: srOff is the SR entry less its mean over the rows with the same current node, so no function of the current node tracks it', () => {
  const records = graphBatch({ experiments: 4, episodes: 5, seed: 11, config: { words: [...CommunityGraph.create({}, 11).names] } });
  const table = graphTargets(records.map((r) => r.latents));
  const n = 15;
  const node = (k: number) => targetColumn(table, `node[${k}]`);
  for (let j = 0; j < n; j++) {
    const sr = targetColumn(table, `sr[${j}]`);
    const off = targetColumn(table, `srOff[${j}]`);
    for (let k = 0; k < n; k++) {
      const rows = [...node(k).keys()].filter((r) => node(k)[r] === 1);
      assert.ok(rows.length > 1, `node ${k} is current in some rows`);
      // Within the rows where node k is current, the shift is one constant (their mean of sr[j]), and srOff sums to 0.
      const shift = sr[rows[0]] - off[rows[0]];
      for (const r of rows) assert.ok(Math.abs(sr[r] - off[r] - shift) < 1e-12);
      assert.ok(Math.abs(rows.reduce((a, r) => a + off[r], 0)) < 1e-9);
      assert.ok(Math.abs(pearson(off, node(k))) < 1e-9, `srOff[${j}] and node[${k}]`);
    }
    // What is left still varies: the SR changes as the walk goes on.
    assert.ok(off.some((v) => Math.abs(v) > 1e-3));
  }
});
