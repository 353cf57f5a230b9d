import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataset } from '../../../src/cli/commands/dataset';
import { simulateTask, taskRecords } from '../../../src/core/simulation';
import { TASK_KINDS } from '../../../src/core/envs/types';

async function quietly<T>(f: () => Promise<T>): Promise<T> {
  const original = console.error;
  console.error = () => {};
  try {
    return await f();
  } finally {
    console.error = original;
  }
}

test('icrl-lens dataset writes one JSON record per experiment, identical for the same seed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'icrl-dataset-'));
  const files = ['a', 'b', 'c'].map((n) => join(dir, `${n}.jsonl`));
  const args = (out: string, seed: string) => ['--task', 'grid', '--n', '4', '--seed', seed, '--episodes', '5', '--out', out];
  assert.equal(await quietly(() => dataset.run(args(files[0], '3'))), 0);
  assert.equal(await quietly(() => dataset.run(args(files[1], '3'))), 0);
  assert.equal(await quietly(() => dataset.run(args(files[2], '4'))), 0);
  const [a, b, c] = files.map((f) => readFileSync(f));
  assert.ok(a.equals(b), 'same seed, same bytes');
  assert.ok(!a.equals(c), 'another seed, other bytes');
  const lines = a.toString().trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 4);
  assert.equal(lines[0].format, 'icrl-lens.experiment/1');
  assert.equal(lines[0].task, 'grid');
  assert.equal(lines[0].episodes.length, 5);
  const span = lines[0].transcript.spans[0];
  assert.equal(lines[0].transcript.text.slice(span.start, span.end), span.answer);
});

test('icrl-lens dataset names a bad option and what is allowed', async () => {
  await assert.rejects(() => dataset.run(['--task', 'maze', '--out', 'x.jsonl']), /--task = "maze" is not allowed: one of 'two-step', 'grid', 'graph'/);
  await assert.rejects(() => dataset.run(['--task', 'grid']), /--out = undefined is not allowed: a file/);
  await assert.rejects(() => dataset.run(['--task', 'grid', '--n', '0', '--out', 'x.jsonl']), /--n = "0" is not allowed: an integer >= 1/);
  await assert.rejects(() => dataset.run(['--task', 'grid', '--bogus']), /Unknown option '--bogus'/);
});

test('an option the environment refuses fails before the file is opened, leaving none behind', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'icrl-dataset-')), 'walks.jsonl');
  await assert.rejects(() => dataset.run(['--task', 'graph', '--n', '2', '--communities', '10', '--community-size', '10', '--out', out]), /at most 90 nodes/);
  assert.equal(existsSync(out), false);
});

test('records are made as they are read: the first of a billion come at once, and are the batch\'s', () => {
  for (const task of TASK_KINDS) {
    const options = { seed: 11, episodes: 4 };
    const batch = simulateTask(task, { ...options, experiments: 3 }).records;
    const made = taskRecords(task, { ...options, experiments: 1e9 })[Symbol.iterator]();
    for (const record of batch) assert.deepEqual(made.next().value, record, task);
  }
});

test('--agents replaces the named parameters\u2019 ranges and keeps the others\u2019; bad ranges are named', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'icrl-dataset-'));
  const out = join(dir, 'sharp.jsonl');
  assert.equal(await quietly(() => dataset.run(['--task', 'two-step', '--n', '40', '--seed', '5', '--episodes', '3', '--agents', 'beta=8:12, alpha=0.6:1', '--out', out])), 0);
  const params = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l).agent.params);
  assert.equal(params.length, 40);
  for (const p of params) assert.ok(p.beta >= 8 && p.beta <= 12 && p.alpha >= 0.6 && p.alpha <= 1 && p.gamma >= 0.7 && p.gamma <= 1 && p.kappa === 0, JSON.stringify(p));
  // Drawn over the whole range, not pinned to an end of it.
  assert.ok(Math.min(...params.map((p) => p.beta)) < 9 && Math.max(...params.map((p) => p.beta)) > 11);
  const bad = join(dir, 'bad.jsonl');
  await assert.rejects(() => dataset.run(['--task', 'two-step', '--agents', 'beta=8', '--out', bad]), /--agents = "beta=8" is not allowed: name=low:high pairs/);
  await assert.rejects(() => dataset.run(['--task', 'grid', '--agents', 'beta=12:8', '--out', bad]), /agents\.beta = \[12,8\] is not allowed: a range \[low, high\] with low <= high/);
  await assert.rejects(() => dataset.run(['--task', 'two-step', '--agents', 'kappa=1:2', '--out', bad]), /agents\.kappa .* one of the agents\u2019 parameters: alpha, gamma, beta/);
  await assert.rejects(() => dataset.run(['--task', 'graph', '--agents', 'beta=1:2', '--out', bad]), /no agent ranges for the graph task/);
  assert.equal(existsSync(bad), false);
});
