import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { decodeModel } from '../../../src/core/onnx/builder';
import { ModelError } from '../../../src/core/lm/errors';
import { loadModel } from '../../../src/core/lm/runtime';
import { prepareModel } from '../../../src/core/lm/surgery';
import { tempDir, withExternalData, writeModelFolder } from '../../fixtures/lm/folders';
import { gptModel, llamaModel, maxAbsDiff, tokenIds } from '../../fixtures/lm/models';

const dir = tempDir();
after(() => dir.remove());

describe('graph surgery', () => {
  test('adds a delta input and a tap output per block, and keeps the original interface', () => {
    const m = llamaModel({ kvCache: true });
    const file = writeModelFolder(join(dir.path, 'interface'), m.bytes);
    const prepared = prepareModel(file, false);
    const graph = decodeModel(prepared.model as Uint8Array).graph!;
    const inputs = (graph.input ?? []).map((v) => v.name);
    const outputs = (graph.output ?? []).map((v) => v.name);
    for (const name of ['input_ids', 'attention_mask', 'position_ids', 'past_key_values.2.value', 'delta.0', 'delta.1', 'delta.2']) assert.ok(inputs.includes(name), name);
    for (const name of ['logits', 'present.0.key', 'resid.0', 'resid.1', 'resid.2']) assert.ok(outputs.includes(name), name);
    const delta = graph.input?.find((v) => v.name === 'delta.1')?.type?.tensorType?.shape?.dim?.map((d) => d.dimValue ?? d.dimParam);
    assert.deepEqual(delta?.map(String), ['delta_batch', 'delta_sequence', '32']);
  });

  test('caches the rewrite by content hash and reuses it', () => {
    const cache = join(dir.path, 'cache-hash');
    const a = writeModelFolder(join(dir.path, 'a'), gptModel({}, 1).bytes);
    const sameBytes = writeModelFolder(join(dir.path, 'a-copy'), gptModel({}, 1).bytes);
    const other = writeModelFolder(join(dir.path, 'b'), gptModel({}, 2).bytes);
    const first = prepareModel(a, cache);
    assert.equal(first.cached, false);
    assert.equal(first.hash, createHash('sha256').update(readFileSync(a)).digest('hex'));
    assert.ok(typeof first.model === 'string' && existsSync(first.model));
    const again = prepareModel(sameBytes, cache);
    assert.equal(again.cached, true);
    assert.equal(again.hash, first.hash);
    assert.equal(again.model, first.model);
    assert.deepEqual(again.analysis, first.analysis);
    assert.notEqual(prepareModel(other, cache).hash, first.hash);
  });

  test('a model with external data runs from the cache as the inline model does', async () => {
    const m = llamaModel();
    const inlineFile = writeModelFolder(join(dir.path, 'inline'), m.bytes);
    const folder = join(dir.path, 'external');
    writeModelFolder(folder, withExternalData(m.bytes, join(folder, 'model.onnx_data'), 'model.onnx_data'));
    const cacheDir = join(dir.path, 'cache-external');
    const ids = [tokenIds(7, m.config.vocab, 1)];
    const inline = await loadModel(inlineFile, { cacheDir, provider: 'cpu' });
    const external = await loadModel(folder, { cacheDir, provider: 'cpu' });
    const a = await inline.forward(ids, { taps: 'all' });
    const b = await external.forward(ids, { taps: 'all' });
    assert.equal(maxAbsDiff(a.logits[0], b.logits[0]), 0);
    assert.equal(maxAbsDiff(a.taps.get(2)![0], b.taps.get(2)![0]), 0);
    const uncached = await loadModel(folder, { cacheDir: false, provider: 'cpu' });
    assert.equal(maxAbsDiff((await uncached.forward(ids)).logits[0], a.logits[0]), 0);
    await Promise.all([inline.dispose(), external.dispose(), uncached.dispose()]);
  });

  test('a file that is not an ONNX model is named in the error', () => {
    const file = join(dir.path, 'pointer.onnx');
    writeFileSync(file, 'version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n');
    assert.throws(() => prepareModel(file, false), (err: unknown) => err instanceof ModelError && err.file === file && /Git LFS pointer/.test(err.fix));
  });
});
