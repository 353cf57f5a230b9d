import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { encodeModel } from '../../../src/core/onnx/builder';
import { Rng } from '../../../src/core/random';
import { ARCHITECTURES } from '../../../src/core/sae/architectures';
import { buildGradientModel, buildTrainingModel, type TrainingGraphSpec } from '../../../src/core/sae/trainingGraph';
import { adamStep, lossAndGrads, type RefOptions, type RefParams } from './reference';

const dIn = 6;
const dSae = 10;
const batch = 7;
const adam = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
const NAMES = ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const;

interface Case {
  label: string;
  options: RefOptions;
}

const base = { dIn, dSae, l1Coefficient: 0.7, k: 3, kAux: 4, deadSteps: 2, auxKCoefficient: 1 / 32 };
const CASES: Case[] = [
  { label: 'standard, b_dec subtracted from the input', options: { ...base, architecture: 'standard', applyBDecToInput: true } },
  { label: 'standard, b_dec not subtracted', options: { ...base, architecture: 'standard', applyBDecToInput: false } },
  { label: 'topk with AuxK', options: { ...base, architecture: 'topk', applyBDecToInput: true } },
  { label: 'topk with no dead latent (AuxK skipped)', options: { ...base, architecture: 'topk', applyBDecToInput: false, deadSteps: 100 } },
];

function spec(o: RefOptions, elem: 'float32' | 'float64'): TrainingGraphSpec {
  return {
    arch: ARCHITECTURES[o.architecture],
    config: { k: o.k },
    dIn,
    dSae,
    elem,
    applyBDecToInput: o.applyBDecToInput,
    settings: { deadSteps: o.deadSteps, auxKCoefficient: o.auxKCoefficient, kAux: o.kAux },
    adam,
  };
}

/** Parameters away from the initialisation (so b_dec, b_enc and row norms all matter), and a batch. */
function fixture(seed: number) {
  const rng = Rng.fromSeed(seed);
  const randn = (n: number, sd: number) => Float64Array.from({ length: n }, () => rng.normal(0, sd));
  const params: RefParams = { W_enc: randn(dIn * dSae, 0.5), b_enc: randn(dSae, 0.3), W_dec: randn(dSae * dIn, 0.5), b_dec: randn(dIn, 0.3) };
  const x = randn(batch * dIn, 1);
  // Latents 0, 3, 6, 9 count as dead (>= deadSteps), so AuxK is active.
  const stepsSinceFired = Float64Array.from({ length: dSae }, (_, i) => (i % 3 === 0 ? 5 : 0));
  return { params, x, stepsSinceFired };
}

const f64 = (data: Float64Array, dims: number[]) => new ort.Tensor('float64', data, dims);
const shapes: Record<(typeof NAMES)[number], number[]> = { W_enc: [dIn, dSae], b_enc: [dSae], W_dec: [dSae, dIn], b_dec: [dIn] };

function gradientFeeds(o: RefOptions, params: RefParams, x: Float64Array, stepsSinceFired: Float64Array) {
  const feeds: Record<string, ort.Tensor> = { x: f64(x, [batch, dIn]), steps_since_fired: f64(stepsSinceFired, [dSae]) };
  for (const name of NAMES) feeds[name] = f64(params[name], shapes[name]);
  if (o.architecture === 'standard') feeds.coef_l1Coefficient = f64(new Float64Array([o.l1Coefficient]), []);
  return feeds;
}

function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += Math.max(a[i] ** 2, b[i] ** 2);
  }
  return Math.sqrt(diff / Math.max(norm, 1e-300));
}

for (const { label, options } of CASES) {
  test(`${label}: the backward pass matches central finite differences in float64 (relative error < 1e-6)`, async () => {
    const { params, x, stepsSinceFired } = fixture(11);
    const gradSession = await ort.InferenceSession.create(encodeModel(buildGradientModel(spec(options, 'float64'))));
    const at = await gradSession.run(gradientFeeds(options, params, x, stepsSinceFired));
    // The loss is differentiated with its stop-gradient values (AuxK's residual) held at this point.
    const frozenNames = Object.keys(at).filter((k) => k.startsWith('detached_')).map((k) => k.slice('detached_'.length));
    const lossSession = await ort.InferenceSession.create(encodeModel(buildGradientModel(spec(options, 'float64'), frozenNames)));
    const frozenFeeds = Object.fromEntries(frozenNames.map((n) => [`frozen_${n}`, at[`detached_${n}`]]));
    const lossAt = async (p: RefParams) => (await lossSession.run({ ...gradientFeeds(options, p, x, stepsSinceFired), ...frozenFeeds })).loss.data[0] as number;
    assert.ok(Math.abs((await lossAt(params)) - (at.loss.data[0] as number)) < 1e-12, 'frozen and live losses agree');

    const h = 1e-6;
    for (const name of NAMES) {
      const analytic = at[`grad_${name}`].data as Float64Array;
      const numeric = new Float64Array(analytic.length);
      for (let i = 0; i < numeric.length; i++) {
        const plus = { ...params, [name]: params[name].slice() };
        const minus = { ...params, [name]: params[name].slice() };
        plus[name][i] += h;
        minus[name][i] -= h;
        numeric[i] = ((await lossAt(plus)) - (await lossAt(minus))) / (2 * h);
      }
      assert.ok(analytic.some((g) => Math.abs(g) > 1e-3), `${name}: gradient is not trivially zero`);
      const err = relativeError(analytic, numeric);
      assert.ok(err < 1e-6, `${name}: relative error ${err.toExponential(2)}`);
    }
  });

  test(`${label}: loss and gradients agree with an independent autodiff implementation`, async () => {
    const { params, x, stepsSinceFired } = fixture(12);
    const session = await ort.InferenceSession.create(encodeModel(buildGradientModel(spec(options, 'float64'))));
    const out = await session.run(gradientFeeds(options, params, x, stepsSinceFired));
    const ref = lossAndGrads(params, x, batch, options, stepsSinceFired);
    assert.ok(Math.abs((out.loss.data[0] as number) - ref.loss) < 1e-12 * Math.max(1, ref.loss));
    for (const [part, value] of Object.entries(ref.parts)) assert.ok(Math.abs((out[`part_${part}`].data[0] as number) - value) < 1e-12, part);
    if (options.architecture === 'topk') assert.equal(ref.parts.aux > 0, options.deadSteps === 2, 'AuxK runs exactly when latents are dead');
    for (const name of NAMES) {
      const err = relativeError(out[`grad_${name}`].data as Float64Array, ref.grads[name]);
      assert.ok(err < 1e-12, `${name}: relative error ${err.toExponential(2)}`);
    }
  });

  for (const elem of ['float64', 'float32'] as const) {
    test(`${label}: ${elem} Loop of Adam steps matches the reference step by step`, async () => {
      const steps = 3;
      const { params, stepsSinceFired } = fixture(13);
      if (options.architecture === 'topk') {
        // Unit-norm rows, as the TopK trainer keeps them.
        for (let i = 0; i < dSae; i++) {
          const row = params.W_dec.subarray(i * dIn, (i + 1) * dIn);
          const n = Math.hypot(...row);
          row.forEach((v, j) => (row[j] = v / n));
        }
      }
      const rng = Rng.fromSeed(14);
      const xs = Float64Array.from({ length: steps * batch * dIn }, () => rng.normal());
      const lrs = [0.01, 0.02, 0.005];
      const coefs = [0.1, 0.4, 0.7];

      const Arr = elem === 'float64' ? Float64Array : Float32Array;
      const t = (data: ArrayLike<number>, dims: number[]) => new ort.Tensor(elem, Arr.from(data), dims);
      const feeds: Record<string, ort.Tensor> = {
        x: t(xs, [steps, batch, dIn]),
        lr: t(lrs, [steps]),
        step: t([0], []),
        steps_since_fired: t(stepsSinceFired, [dSae]),
      };
      if (options.architecture === 'standard') feeds.coef_l1Coefficient = t(coefs, [steps]);
      for (const name of NAMES) {
        feeds[name] = t(params[name], shapes[name]);
        feeds[`m_${name}`] = t(new Float64Array(params[name].length), shapes[name]);
        feeds[`v_${name}`] = t(new Float64Array(params[name].length), shapes[name]);
      }
      const session = await ort.InferenceSession.create(encodeModel(buildTrainingModel(spec(options, elem))));
      const out = await session.run(feeds);

      const state = {
        params: structuredClone(params),
        m: Object.fromEntries(NAMES.map((n) => [n, new Float64Array(params[n].length)])) as unknown as RefParams,
        v: Object.fromEntries(NAMES.map((n) => [n, new Float64Array(params[n].length)])) as unknown as RefParams,
        step: 0,
        stepsSinceFired: stepsSinceFired.slice(),
      };
      // In float32 the tolerance is float32 rounding through three steps; in float64, exact to rounding.
      const tol = elem === 'float64' ? 1e-10 : 2e-4;
      for (let s = 0; s < steps; s++) {
        const r = adamStep(state, xs.subarray(s * batch * dIn, (s + 1) * batch * dIn), batch, { ...options, l1Coefficient: coefs[s] }, lrs[s], adam.beta1, adam.beta2, adam.epsilon);
        const loss = out.loss.data[s] as number;
        assert.ok(Math.abs(loss - r.loss) <= tol * Math.max(1, r.loss), `step ${s}: loss ${loss} vs ${r.loss}`);
        const l0 = r.active.filter(Boolean).length / batch;
        assert.ok(Math.abs((out.l0.data[s] as number) - l0) < 1e-6, `step ${s}: l0 ${out.l0.data[s]} vs ${l0}`);
      }
      for (const name of NAMES) {
        for (const [prefix, ref] of [['', state.params], ['m_', state.m], ['v_', state.v]] as const) {
          const err = relativeError(out[`${prefix}${name}_out`].data as Float64Array, ref[name]);
          assert.ok(err < tol, `${prefix}${name}: relative error ${err.toExponential(2)}`);
        }
      }
      assert.equal(out.step_out.data[0], steps);
      assert.deepEqual(Array.from(out.steps_since_fired_out.data as Float64Array), Array.from(state.stepsSinceFired));
    });
  }
}
