import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../../src/core/random';
import { ARCHITECTURES } from '../../../src/core/sae/architectures';
import type { Sae } from '../../../src/core/sae/sae';
import { deserialize, serialize } from '../../../src/core/sae/safetensors';
import { loadSae, saveSae, SaeFormatError } from '../../../src/core/sae/saelens';
import { SaeSession } from '../../../src/core/sae/session';
import { pythonWithNumpy, runPython } from './python';

const python = pythonWithNumpy();
const skip = python === null ? 'no python3 with numpy: the reference SAELens folders cannot be made' : false;

function makeFolders(): { dir: string; expected: Record<string, any> } {
  const dir = mkdtempSync(join(tmpdir(), 'saelens-ref-'));
  const made = runPython(python!, ['test/fixtures/sae/make_safetensors.py', 'saelens', dir]);
  assert.equal(made.status, 0, made.output);
  return { dir, expected: JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) };
}

function assertClose(actual: ArrayLike<number>, expected: number[], tol: number, what: string) {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol * Math.max(1, Math.abs(expected[i])), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

test('loads SAELens folders written by the Python reference and computes what numpy computes', { skip }, async () => {
  const { dir, expected } = makeFolders();
  const x = Float32Array.from(expected.x as number[]);

  const legacy = await loadSae(join(dir, 'standard_legacy'));
  assert.equal(legacy.architecture, 'standard');
  assert.equal(legacy.dtype, 'bfloat16');
  assert.equal(legacy.applyBDecToInput, true);
  assert.deepEqual([legacy.dIn, legacy.dSae], [8, 16]);
  assert.equal(legacy.metadata.model_name, 'tiny-model');
  assert.equal(legacy.metadata.hook_layer, 1);
  assert.equal(legacy.extraConfig.finetuning_scaling_factor, false);

  const topk = await loadSae(join(dir, 'topk_v6'));
  assert.equal(topk.architecture, 'topk');
  assert.deepEqual(topk.config, { k: 3 });
  assert.equal(topk.applyBDecToInput, false);
  assert.equal(topk.metadata.hook_name, 'blocks.2.hook_resid_post');

  const jump = await loadSae(join(dir, 'jumprelu_f16'));
  assert.equal(jump.architecture, 'jumprelu');
  assert.equal(jump.dtype, 'float16');
  assert.equal(jump.params.threshold.length, 16);

  for (const [name, sae] of [['standard_legacy', legacy], ['topk_v6', topk], ['jumprelu_f16', jump]] as const) {
    const session = SaeSession.create(sae);
    const acts = await session.encode(x);
    assertClose(acts, expected[name].acts, 1e-5, `${name} acts`);
    assertClose(await session.decode(acts), expected[name].recon, 1e-5, `${name} recon`);
    if (name === 'topk_v6') for (let r = 0; r < 5; r++) assert.ok(acts.subarray(r * 16, (r + 1) * 16).filter((v) => v > 0).length <= 3);
    await session.release();
  }
});

test('a SAELens folder round-trips bit-exactly', { skip }, async () => {
  const { dir } = makeFolders();
  const out = mkdtempSync(join(tmpdir(), 'saelens-out-'));
  for (const name of ['standard_legacy', 'topk_v6', 'jumprelu_f16']) {
    const sae = await loadSae(join(dir, name));
    await saveSae(join(out, name), sae);
    const original = readFileSync(join(dir, name, 'sae_weights.safetensors'));
    assert.deepEqual(readFileSync(join(out, name, 'sae_weights.safetensors')), original, `${name}: weights bytes`);
    const again = await loadSae(join(out, name));
    assert.deepEqual(again, sae, `${name}: loaded again`);
    await saveSae(join(out, `${name}-2`), again);
    assert.equal(readFileSync(join(out, `${name}-2`, 'cfg.json'), 'utf8'), readFileSync(join(out, name, 'cfg.json'), 'utf8'));
    // Keys SAELens reads keep their values.
    const cfg = JSON.parse(readFileSync(join(out, name, 'cfg.json'), 'utf8'));
    const src = JSON.parse(readFileSync(join(dir, name, 'cfg.json'), 'utf8'));
    for (const key of ['architecture', 'd_in', 'd_sae', 'dtype', 'apply_b_dec_to_input', 'normalize_activations', 'k', 'activation_fn_kwargs', 'context_size']) {
      if (key in src) assert.deepEqual(cfg[key], src[key], `${name}: ${key}`);
    }
  }
});

function randomSae(architecture: 'standard' | 'topk', dtype: Sae['dtype']): Sae {
  const rng = Rng.fromSeed(5);
  const params = ARCHITECTURES[architecture].training!.init(rng, 6, 20, { k: 4 });
  for (const v of Object.values(params)) for (let i = 0; i < v.length; i++) v[i] += rng.normal(0, 0.01);
  return {
    architecture,
    dIn: 6,
    dSae: 20,
    config: architecture === 'topk' ? { k: 4 } : {},
    applyBDecToInput: true,
    normalizeActivations: 'none',
    dtype,
    params,
    metadata: { model_name: 'm', hook_name: 'blocks.0.hook_resid_post', hook_layer: 0 },
    extraConfig: { icrl_lens: { block: 0 } },
    extraTensors: new Map(),
    weightsMetadata: {},
  };
}

test('our SAEs round-trip bit-exactly in every storage dtype', async () => {
  const out = mkdtempSync(join(tmpdir(), 'saelens-ours-'));
  for (const arch of ['standard', 'topk'] as const) {
    for (const dtype of ['float32', 'float16', 'bfloat16'] as const) {
      const sae = randomSae(arch, dtype);
      const a = join(out, `${arch}-${dtype}-a`);
      const b = join(out, `${arch}-${dtype}-b`);
      await saveSae(a, sae);
      const loaded = await loadSae(a);
      await saveSae(b, loaded);
      for (const file of ['cfg.json', 'sae_weights.safetensors']) assert.deepEqual(readFileSync(join(b, file)), readFileSync(join(a, file)), `${arch} ${dtype} ${file}`);
      if (dtype === 'float32') for (const [k, v] of Object.entries(sae.params)) assert.deepEqual(loaded.params[k], v, k);
      assert.equal(loaded.dtype, dtype);
      assert.deepEqual(loaded.extraConfig, sae.extraConfig);
    }
  }
});

test('loading a broken folder names the missing key, the wrong shape or the unknown architecture', async () => {
  const good = mkdtempSync(join(tmpdir(), 'saelens-bad-'));
  await saveSae(join(good, 'ok'), randomSae('topk', 'float32'));
  const variant = (name: string, edit: (cfg: any, tensors: Map<string, any>) => void) => {
    const dir = join(good, name);
    cpSync(join(good, 'ok'), dir, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(dir, 'cfg.json'), 'utf8'));
    const { tensors } = deserialize(readFileSync(join(dir, 'sae_weights.safetensors')));
    edit(cfg, tensors);
    writeFileSync(join(dir, 'cfg.json'), JSON.stringify(cfg));
    writeFileSync(join(dir, 'sae_weights.safetensors'), serialize(tensors));
    return dir;
  };
  const expectError = async (dir: string, pattern: RegExp) => {
    await assert.rejects(loadSae(dir), (e: unknown) => e instanceof SaeFormatError && pattern.test(e.message));
  };
  await expectError(variant('no-dsae', (cfg) => delete cfg.d_sae), /cfg\.json: missing key "d_sae"/);
  await expectError(variant('no-bdec', (_cfg, t) => t.delete('b_dec')), /sae_weights\.safetensors: missing tensor "b_dec"/);
  await expectError(
    variant('bad-shape', (_cfg, t) => {
      const w = t.get('W_dec');
      t.set('W_dec', { ...w, shape: [6, 20] });
    }),
    /tensor "W_dec" has shape \[6, 20\], expected \[20, 6\]/,
  );
  await expectError(variant('gated', (cfg) => (cfg.architecture = 'gated')), /unknown architecture "gated" \(known: standard, topk, jumprelu\)/);
  await expectError(
    variant('no-k', (cfg) => {
      delete cfg.k;
      delete cfg.activation_fn_kwargs;
    }),
    /needs k/,
  );
  await expectError(join(good, 'missing-folder'), /cfg\.json: not found/);
});
