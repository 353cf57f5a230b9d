import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../src/core/config';
import { ActivationStore, ActivationStoreWriter } from '../../../src/core/sae/activationStore';
import { evaluateSae } from '../../../src/core/sae/evaluate';
import { DEFAULT_TRAIN_OPTIONS, resolveTrainOptions } from '../../../src/core/sae/options';
import { SaeSession } from '../../../src/core/sae/session';
import { memorySource } from '../../../src/core/sae/source';
import { trainSae, trainSaes, TrainingDivergedError, type TrainProgress } from '../../../src/core/sae/train';
import { recoveredFraction, sparseFeatureData } from './synthetic';

const dIn = 64;
const synthetic = sparseFeatureData({ dIn, features: 128, rows: 16384, meanActive: 4, seed: 1 });

const RECOVERY = {
  standard: { architecture: 'standard', l1Coefficient: 3, expansionFactor: 4, epochs: 10, batchSize: 256, learningRate: 3e-3, seed: 1 },
  topk: { architecture: 'topk', k: 4, expansionFactor: 4, epochs: 5, batchSize: 256, learningRate: 3e-3, deadAfterRows: 20000, seed: 1 },
} as const;

for (const [name, options] of Object.entries(RECOVERY)) {
  test(`${name}: recovers more than 90% of known sparse directions at cosine > 0.9`, async () => {
    const result = await trainSae(memorySource(synthetic.data, dIn), options);
    const recovered = recoveredFraction(synthetic.directions, result.sae.params.W_dec, dIn, 0.9);
    assert.ok(recovered > 0.9, `recovered ${recovered}`);
    const evaluation = await evaluateSae(result.sae, memorySource(synthetic.data, dIn));
    assert.ok(evaluation.fvu < 0.3, `fvu ${evaluation.fvu}`);
    assert.ok(evaluation.l0 > 1 && evaluation.l0 < 12, `l0 ${evaluation.l0}`);
    if (name === 'topk') assert.ok(evaluation.l0 <= 4);
  });
}

test('progress reports every session call, with the learning-rate warm-up and decay', async () => {
  const reports: TrainProgress[] = [];
  const rows = synthetic.data.subarray(0, 2048 * dIn);
  const result = await trainSae(memorySource(rows, dIn), { architecture: 'standard', expansionFactor: 2, epochs: 4, batchSize: 128, stepsPerRun: 4, lrWarmupFraction: 0.25, lrDecayFraction: 0.25, learningRate: 1e-3, l1WarmupFraction: 0 }, {
    onProgress: (p) => reports.push(p),
  });
  const totalSteps = 4 * (2048 / 128);
  assert.equal(reports.length, totalSteps / 4);
  assert.deepEqual(reports.map((r) => r.step), Array.from({ length: 16 }, (_, i) => 4 * (i + 1)));
  assert.ok(reports.every((r) => r.totalSteps === totalSteps && Number.isFinite(r.loss) && r.parts.mse > 0 && r.parts.l1 > 0));
  // Steps 0..63: warm-up over 16 steps, flat, decay over the last 16. Reports carry the rate of their last step.
  assert.ok(Math.abs(reports[0].learningRate - 1e-3 * (4 / 16)) < 1e-9);
  assert.ok(Math.abs(reports[7].learningRate - 1e-3) < 1e-9);
  assert.ok(Math.abs(reports[15].learningRate - 1e-3 * (1 / 16)) < 1e-9);
  assert.ok(reports.at(-1)!.loss < reports[0].loss, 'loss falls');
  assert.equal(result.history.length, reports.length);
});

test('normalisation is folded into the saved weights: the SAE works on raw activations at any scale', async () => {
  const rows = synthetic.data.subarray(0, 4096 * dIn);
  const scaled = rows.map((v) => v * 1000);
  const options = { architecture: 'topk', k: 4, expansionFactor: 2, epochs: 2, batchSize: 256, seed: 3 } as const;
  const a = await trainSae(memorySource(rows, dIn), options);
  const b = await trainSae(memorySource(scaled, dIn), options);
  assert.ok(Math.abs(b.normScale * 1000 - a.normScale) < 1e-6 * a.normScale);
  const actsA = await SaeSession.create(a.sae).encode(rows.subarray(0, 64 * dIn));
  const actsB = await SaeSession.create(b.sae).encode(scaled.subarray(0, 64 * dIn));
  for (let i = 0; i < actsA.length; i++) assert.ok(Math.abs(actsA[i] - actsB[i]) < 1e-3 * Math.max(1, actsA[i]), `latent ${i}`);
  const fvuA = (await evaluateSae(a.sae, memorySource(rows, dIn))).fvu;
  const fvuB = (await evaluateSae(b.sae, memorySource(scaled, dIn))).fvu;
  assert.ok(Math.abs(fvuA - fvuB) < 1e-3, `${fvuA} vs ${fvuB}`);
  assert.equal(b.sae.normalizeActivations, 'none');
  assert.deepEqual((b.sae.extraConfig.icrl_lens as any).normalization, { scale: b.normScale, folded: true });
});

test('NaN or Inf stops training with the step, the cause and a suggestion', async () => {
  const rows = synthetic.data.slice(0, 1024 * dIn);
  rows[700 * dIn + 3] = NaN;
  await assert.rejects(
    trainSae(memorySource(rows, dIn), { epochs: 1, batchSize: 256, normalizeActivations: false, initBDecAtMean: false, stepsPerRun: 2 }),
    (e: unknown) => e instanceof TrainingDivergedError && e.step >= 1 && e.step <= 4 && /holds NaN or infinite activations/.test(e.message) && /Check the activation store/.test(e.message),
  );
  await assert.rejects(
    trainSae(memorySource(rows, dIn), { epochs: 1, batchSize: 256 }),
    (e: unknown) => e instanceof TrainingDivergedError && e.step === 0 && /sampled for normalisation hold NaN/.test(e.message),
  );
  const huge = synthetic.data.slice(0, 1024 * dIn).map((v) => v * 1e20);
  await assert.rejects(
    trainSae(memorySource(huge, dIn), { epochs: 1, batchSize: 256, normalizeActivations: false, initBDecAtMean: false }),
    (e: unknown) => e instanceof TrainingDivergedError && e.step === 1 && /the mse loss became Infinity/.test(e.message) && /normalizeActivations: true/.test(e.message),
  );
});

test('an AbortSignal stops training between session calls', async () => {
  const controller = new AbortController();
  let calls = 0;
  await assert.rejects(
    trainSae(memorySource(synthetic.data, dIn), { epochs: 5, batchSize: 128, stepsPerRun: 2 }, {
      signal: controller.signal,
      onProgress: () => {
        calls++;
        controller.abort();
      },
    }),
    { name: 'AbortError' },
  );
  assert.equal(calls, 1);
});

test('options have documented defaults and errors that name the field, the value and what is allowed', async () => {
  const o = resolveTrainOptions({}, 64);
  assert.equal(o.dSae, 64 * DEFAULT_TRAIN_OPTIONS.expansionFactor);
  assert.equal(o.kAux, 32);
  assert.equal(o.architecture, 'standard');
  assert.throws(() => resolveTrainOptions({ architecture: 'gated' }, 64), (e: unknown) => e instanceof ConfigError && /sae.architecture = "gated".*'standard', 'topk'/.test(e.message));
  assert.throws(() => resolveTrainOptions({ architecture: 'topk', k: 1000, expansionFactor: 2 }, 64), /sae.k = 1000 .*d_sae = 128/);
  assert.throws(() => resolveTrainOptions({ learningRate: -1 }, 64), /sae.learningRate = -1/);
  assert.throws(() => resolveTrainOptions({ lerningRate: 1 } as never, 64), /sae.lerningRate/);
  assert.throws(() => resolveTrainOptions({ normalizeActivations: 'yes' } as never, 64), /sae.normalizeActivations = "yes" is not allowed: true or false/);
  assert.equal(o.whiten, false);
  assert.throws(() => resolveTrainOptions({ whiten: 1 } as never, 64), /sae.whiten = 1 is not allowed: true or false/);
  await assert.rejects(trainSae(memorySource(new Float32Array(10 * dIn), dIn), { batchSize: 64 }), /sae.batchSize = 64 is larger than the 10 rows/);
});

test('several blocks train in one pass over an on-disk store', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'sae-train-store-')), 'acts');
  const other = sparseFeatureData({ dIn, features: 128, rows: 8192, meanActive: 4, seed: 2 });
  const first = synthetic.data.subarray(0, 8192 * dIn);
  const writer = await ActivationStoreWriter.open(dir, { blocks: [2, 5], dModel: dIn, metaFields: [], shardBytes: 2 * 4 * dIn * 1024 });
  for (let start = 0; start < 8192; start += 1000) {
    const n = Math.min(1000, 8192 - start);
    const meta = Array.from({ length: n }, (_, i) => ({ id: start + i }));
    await writer.append(2, first.subarray(start * dIn, (start + n) * dIn), meta);
    await writer.append(5, other.data.subarray(start * dIn, (start + n) * dIn), meta);
  }
  await writer.close();
  const store = await ActivationStore.open(dir, { bufferBytes: 2 * 4 * dIn * 4096 });
  const blocksSeen = new Set<number>();
  const results = await trainSaes(store, [2, 5], { ...RECOVERY.topk, epochs: 8 }, {
    onProgress: (p) => blocksSeen.add(p.block!),
    metadataFor: (block) => ({ model_name: 'synthetic', hook_name: `blocks.${block}.hook_resid_post`, hook_layer: block }),
  });
  assert.deepEqual([...blocksSeen].sort(), [2, 5]);
  const r2 = recoveredFraction(synthetic.directions, results.get(2)!.sae.params.W_dec, dIn, 0.9);
  const r5 = recoveredFraction(other.directions, results.get(5)!.sae.params.W_dec, dIn, 0.9);
  assert.ok(r2 > 0.9 && r5 > 0.9, `recovered ${r2}, ${r5}`);
  // Each block's SAE learned its own block's features, not the other's.
  assert.ok(recoveredFraction(other.directions, results.get(2)!.sae.params.W_dec, dIn, 0.9) < 0.2);
  assert.equal(results.get(5)!.sae.metadata.hook_layer, 5);
});
