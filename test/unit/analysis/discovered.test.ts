import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { discoverLatents, latentsFile, LATENTS_FILE, readLatents, runId, writeLatents, type RunInfo } from '../../../src/core/analysis/discovered';
import { JsonFormatError } from '../../../src/core/analysis/jsonFile';
import type { LatentScan } from '../../../src/core/analysis/scan';

const config = { sae: { dSae: 512, l1Coefficient: 5 }, permutations: 200 };
const run: RunInfo = { id: runId('abc123', 7, config), seed: 7, createdAt: '2025-01-02T03:04:05.678Z', config };
const stats = (mean: number) => ({ mean, sd: 0.5, fireRate: 0.1, max: 3 });

function scan(best: LatentScan['best']): LatentScan {
  return { n: 100, width: 512, constant: 3, best };
}

const scans = [
  {
    block: 1,
    sae: 'saes/block-1',
    scan: scan([
      { target: 'tdError', latent: 4, r: 0.41, spearman: 0.4, p: 0.01, stats: stats(1) },
      { target: 'qDiff', latent: 9, r: -0.7, spearman: -0.66, p: 0.005, stats: stats(2) },
    ]),
  },
  {
    block: 2,
    scan: scan([
      { target: 'tdError', latent: 11, r: 0.58, spearman: 0.55, p: 0.2, stats: stats(3) },
      { target: 'qDiff', latent: -1, r: NaN, spearman: NaN, p: null, stats: null },
    ]),
  },
];

async function withFolder(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'icrl-lens-latents-'));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('discovered latents are ranked by |r|, filtered by p, and carry their block, SAE and run', () => {
  const found = discoverLatents({ task: 'two-step', model: 'default', modelHash: 'abc123', run, scans });
  assert.deepEqual(
    found.map((l) => [l.block, l.latent, l.target, l.r]),
    [
      [1, 9, 'qDiff', -0.7],
      [2, 11, 'tdError', 0.58],
      [1, 4, 'tdError', 0.41],
    ],
  );
  assert.equal(found[0].sae, 'saes/block-1');
  assert.equal('sae' in found[1], false);
  assert.deepEqual(found[0].run, run);
  const significant = discoverLatents({ task: 'two-step', model: 'default', modelHash: 'abc123', run, scans, maxP: 0.05 });
  assert.deepEqual(significant.map((l) => l.latent), [9, 4]);
  assert.deepEqual(discoverLatents({ task: 'two-step', model: 'm', modelHash: 'h', run, scans, targets: ['tdError'] }).map((l) => l.latent), [11, 4]);
});

test('run ids depend on the content of the configuration, not on its key order', () => {
  assert.equal(runId('h', 1, { a: 1, b: { c: 2, d: 3 } }), runId('h', 1, { b: { d: 3, c: 2 }, a: 1 }));
  assert.notEqual(runId('h', 1, { a: 1 }), runId('h', 2, { a: 1 }));
  assert.match(runId('h', 1, {}), /^[0-9a-f]{12}$/);
});

test('a latents file round-trips through its folder, written atomically', async () => {
  await withFolder(async (dir) => {
    const folder = join(dir, '.icrl-lens');
    const file = latentsFile({ model: 'default', modelHash: 'abc123', seed: 7, config }, discoverLatents({ task: 'grid', model: 'default', modelHash: 'abc123', run, scans }));
    const path = await writeLatents(folder, file);
    assert.equal(path, join(folder, LATENTS_FILE));
    assert.deepEqual(await readLatents(folder), file);
    assert.deepEqual(await readdir(folder), [LATENTS_FILE]);
  });
});

test('a malformed latents file is an error naming the file and its first problem, and is never overwritten', async () => {
  await withFolder(async (dir) => {
    const path = join(dir, LATENTS_FILE);
    const good = latentsFile({ model: 'default', modelHash: 'abc123', seed: 7, config }, discoverLatents({ task: 'graph', model: 'default', modelHash: 'abc123', run, scans }));
    const bad = JSON.parse(JSON.stringify(good));
    bad.latents[1].r = 1.5;
    await writeFile(path, JSON.stringify(bad));
    await assert.rejects(readLatents(dir), (e: unknown) => {
      assert.ok(e instanceof JsonFormatError);
      assert.equal(e.message, `${path}: at /latents/1/r: must be <= 1`);
      return true;
    });
    await assert.rejects(writeLatents(dir, good), /exists and is not a valid file of this kind \(at \/latents\/1\/r: must be <= 1\); it was left as it is/);
    assert.deepEqual(JSON.parse(await readFile(path, 'utf8')), bad);

    await writeFile(path, '{"format": "icrl-lens.latents",');
    await assert.rejects(readLatents(dir), new RegExp(`^JsonFormatError: ${path.replace(/[.]/g, '\\.')}: is not valid JSON`));
    await writeFile(path, JSON.stringify({ ...good, version: 2 }));
    await assert.rejects(readLatents(dir), /at \/version: must be equal to constant/);
    await writeFile(path, JSON.stringify({ ...good, extra: 1 }));
    await assert.rejects(readLatents(dir), /at the top level: must NOT have additional properties \("extra"\)/);
  });
});

test('a file that would not survive JSON (NaN r) is refused before anything is written', async () => {
  await withFolder(async (dir) => {
    const file = latentsFile({ model: 'm', modelHash: 'h', seed: 0, config: {} }, discoverLatents({ task: 'two-step', model: 'm', modelHash: 'h', run, scans }));
    file.latents[0].r = NaN;
    await assert.rejects(writeLatents(dir, file), /at \/latents\/0\/r: must be number/);
    assert.deepEqual(await readdir(dir), []);
  });
});
