import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonFormatError } from '../../../src/core/analysis/jsonFile';
import {
  PAPER_NUMBERS,
  readResults,
  RESULTS_FILE,
  RESULTS_FORMAT,
  RESULTS_VERSION,
  sideBySide,
  writeResults,
  type Results,
  type TaskResult,
} from '../../../src/core/analysis/results';

function twoStep(): TaskResult {
  return {
    bestLatents: [
      { target: 'tdError', block: 3, latent: 17, r: 0.52, p: 0.005, spearman: 0.49 },
      { target: 'tdError', block: 5, latent: 2, r: -0.61, p: 0.005, source: 'sae' },
      { target: 'tdError', block: 5, latent: 40, r: 0.7, p: 0.3, source: 'residual' },
      { target: 'qDiff', block: 4, latent: 8, r: 0.66, p: null },
    ],
    interventions: [
      { condition: 'none', metric: 'return', value: 0.61, ci95: [0.58, 0.64] },
      { condition: 'lesion', metric: 'return', value: 0.55, ci95: [0.52, 0.58] },
    ],
    paper: { ...PAPER_NUMBERS['two-step'] },
    ours: { 'modelNll.q-learning': { value: 812.5 }, 'modelNll.copy-best': { value: 990.1 } },
    figures: ['two-step-max-correlation.svg'],
  };
}

function results(): Results {
  return {
    format: RESULTS_FORMAT,
    version: RESULTS_VERSION,
    model: 'default',
    modelHash: '0f3a',
    seed: 7,
    config: { experiments: 100 },
    createdAt: '2025-01-02T03:04:05Z',
    tasks: { 'two-step': twoStep() },
  };
}

async function withFolder(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'icrl-lens-results-'));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('the paper\u2019s published figures are all there', () => {
  const p = PAPER_NUMBERS;
  assert.deepEqual(p['two-step']['maxR.tdError'], { value: 0.58, block: 34 });
  assert.deepEqual(
    ['q-learning', 'myopic-q-learning', 'repetition'].map((m) => p['two-step'][`modelNll.${m}`].value),
    [2729, 2864, 5745],
  );
  assert.deepEqual(
    ['return.none', 'return.lesion', 'nll.none', 'nll.lesion', 'nll.control'].map((q) => p['two-step'][`intervention.${q}`].value),
    [4.9, 4.4, 2720, 2930, 2615],
  );
  assert.equal(p.grid['maxR.tdError'].value, 0.75);
  assert.deepEqual(
    ['sr', 'srTd', 'trans', 'surprise'].map((t) => p.graph[`maxR.${t}`].value),
    [0.62, 0.6, 0.49, 0.18],
  );
  assert.deepEqual([p.graph['intervention.accuracy.none'].value, p.graph['intervention.accuracy.lesion'].value], [0.243, 0.189]);
});

test('side by side: our figures are taken from `ours`, or derived from the best SAE latents and the interventions', () => {
  const rows = sideBySide(twoStep());
  const row = (q: string) => rows.find((r) => r.quantity === q)!;
  // The residual baseline's 0.7 is not the SAE's figure; the SAE's best |r| is block 5's -0.61.
  assert.deepEqual(row('maxR.tdError').ours, { value: -0.61, block: 5, note: 'latent 2, tdError' });
  assert.deepEqual(row('intervention.return.lesion').ours, { value: 0.55, ci95: [0.52, 0.58] });
  assert.equal(row('intervention.nll.control').ours, null);
  assert.deepEqual(row('modelNll.q-learning'), { quantity: 'modelNll.q-learning', paper: { value: 2729 }, ours: { value: 812.5 } });
  assert.deepEqual(rows.at(-1), { quantity: 'modelNll.copy-best', paper: null, ours: { value: 990.1 } });
});

test('results round-trip through results.json, written atomically', async () => {
  await withFolder(async (dir) => {
    const file = join(dir, 'out', RESULTS_FILE);
    await writeResults(file, results());
    assert.deepEqual(await readResults(file), results());
    assert.deepEqual(await readdir(join(dir, 'out')), [RESULTS_FILE]);
  });
});

test('a malformed results file is an error naming the file and the problem', async () => {
  await withFolder(async (dir) => {
    const file = join(dir, RESULTS_FILE);
    const cases: [(r: any) => void, RegExp][] = [
      [(r) => delete r.tasks['two-step'].bestLatents, /at \/tasks\/two-step: must have required property 'bestLatents'/],
      [(r) => (r.tasks['two-step'].interventions[1].ci95 = [0.5]), /at \/tasks\/two-step\/interventions\/1\/ci95: must NOT have fewer than 2 items/],
      [(r) => (r.tasks.maze = r.tasks['two-step']), /at \/tasks: must NOT have additional properties \("maze"\)/],
      [(r) => (r.tasks['two-step'].bestLatents[0].source = 'pca'), /at \/tasks\/two-step\/bestLatents\/0\/source: must be equal to one of the allowed values/],
      [(r) => (r.format = 'icrl-lens.latents'), /at \/format: must be equal to constant/],
    ];
    for (const [spoil, message] of cases) {
      const bad: any = results();
      spoil(bad);
      await writeFile(file, JSON.stringify(bad));
      await assert.rejects(readResults(file), (e: unknown) => {
        assert.ok(e instanceof JsonFormatError);
        assert.ok(e.message.startsWith(`${file}: `), e.message);
        assert.match(e.message, message);
        return true;
      });
    }
  });
});

test('results that would not survive JSON are refused', async () => {
  await withFolder(async (dir) => {
    const bad = results();
    bad.tasks['two-step']!.bestLatents[0].r = NaN;
    await assert.rejects(writeResults(join(dir, RESULTS_FILE), bad), /bestLatents\/0\/r: must be number/);
    assert.deepEqual(await readdir(dir), []);
  });
});
