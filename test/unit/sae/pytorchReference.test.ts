import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { encodeModel } from '../../../src/core/onnx/builder';
import { Rng } from '../../../src/core/random';
import { ARCHITECTURES } from '../../../src/core/sae/architectures';
import { buildTrainingModel, momentName, outName } from '../../../src/core/sae/trainingGraph';
import { pythonWithTorch, runPython } from './python';

const python = pythonWithTorch();
const skip = python === null ? 'no python3 with torch: the PyTorch reference trainer cannot run' : false;

const dIn = 8;
const dSae = 24;
const batch = 32;
const steps = 5;
const lr = 1e-2;
const l1Coefficient = 0.3;
const SHAPES: Record<string, number[]> = { W_enc: [dIn, dSae], b_enc: [dSae], W_dec: [dSae, dIn], b_dec: [dIn] };

test('the benchmark trains the same SAE as PyTorch: our training graph, PyTorch autograd with torch.optim.Adam and its hand-written step agree', { skip }, async () => {
  const rng = Rng.fromSeed(9);
  const params: Record<string, Float32Array> = Object.fromEntries(
    Object.entries(SHAPES).map(([name, shape]) => [name, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal(0, 0.3))]),
  );
  const x = Float32Array.from({ length: batch * dIn }, () => rng.normal(0.2, 1));

  const dir = mkdtempSync(join(tmpdir(), 'sae-torch-'));
  const file = join(dir, 'check.json');
  const spec = { d_in: dIn, d_sae: dSae, x: [...x], lr, l1_coefficient: l1Coefficient, steps, ...Object.fromEntries(Object.entries(params).map(([n, v]) => [n, [...v]])) };
  writeFileSync(file, JSON.stringify(spec));
  const run = runPython(python!, ['python/sae_reference_trainer.py', '--threads', '1', '--check', file]);
  rmSync(dir, { recursive: true, force: true });
  assert.equal(run.status, 0, run.output);
  const torch = JSON.parse(run.output) as Record<'autograd' | 'manual', Record<string, number[]>>;

  const session = await ort.InferenceSession.create(
    encodeModel(
      buildTrainingModel({
        arch: ARCHITECTURES.standard,
        config: {},
        dIn,
        dSae,
        elem: 'float32',
        applyBDecToInput: true,
        settings: { deadSteps: 100, auxKCoefficient: 0, kAux: 1 },
        adam: { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
      }),
    ),
  );
  const f32 = (data: Float32Array, dims: number[]) => new ort.Tensor('float32', data, dims);
  const feeds: Record<string, ort.Tensor> = {
    x: f32(new Float32Array(steps * batch * dIn).map((_, i) => x[i % x.length]), [steps, batch, dIn]),
    lr: f32(new Float32Array(steps).fill(lr), [steps]),
    coef_l1Coefficient: f32(new Float32Array(steps).fill(l1Coefficient), [steps]),
    step: f32(new Float32Array([0]), []),
    steps_since_fired: f32(new Float32Array(dSae), [dSae]),
  };
  for (const [name, shape] of Object.entries(SHAPES)) {
    feeds[name] = f32(params[name], shape);
    for (const m of ['m', 'v'] as const) feeds[momentName(m, name)] = f32(new Float32Array(params[name].length), shape);
  }
  const ours = await session.run(feeds);

  const close = (a: ArrayLike<number>, b: ArrayLike<number>, what: string) => {
    assert.equal(a.length, b.length, what);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
    assert.ok(worst < 2e-5, `${what}: relative difference ${worst}`);
  };
  for (const mode of ['autograd', 'manual'] as const) {
    close(ours.loss.data as Float32Array, torch[mode].losses, `${mode} losses`);
    for (const name of Object.keys(SHAPES)) close(ours[outName(name)].data as Float32Array, torch[mode][name], `${mode} ${name}`);
  }
  // Five Adam steps of size about lr moved every parameter: the comparison is not of the starting point.
  for (const name of Object.keys(SHAPES)) {
    const moved = torch.autograd[name].reduce((m, v, i) => Math.max(m, Math.abs(v - params[name][i])), 0);
    assert.ok(moved > 0.5 * lr, `${name} moved ${moved}`);
  }
});
