import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { decodeModel, encodeModel } from '../../../src/core/onnx/builder';
import { ModelError } from '../../../src/core/lm/errors';
import { resolveModelFiles } from '../../../src/core/lm/files';
import { loadModel } from '../../../src/core/lm/runtime';
import { tempDir, writeModelFolder } from '../../fixtures/lm/folders';
import { llamaModel, maxAbsDiff, rows, tokenIds } from '../../fixtures/lm/models';
import { bpeTokenizer, TRANSCRIPT_TOKENIZER } from '../../fixtures/lm/tokenizer';

const dir = tempDir();
after(() => dir.remove());
const cacheDir = join(dir.path, 'cache');

/** The cached Llama export with its KV heads and head size left symbolic, as some exporters declare them. */
function symbolicCacheDims(bytes: Uint8Array): Uint8Array {
  const proto = decodeModel(bytes);
  for (const v of proto.graph?.input ?? []) {
    if (!v.name?.startsWith('past_key_values')) continue;
    const dims = v.type?.tensorType?.shape?.dim ?? [];
    dims[1] = { dimParam: 'num_key_value_heads' };
    dims[3] = { dimParam: 'head_dim' };
  }
  return encodeModel(proto);
}

describe('model folders', () => {
  test('the transformers.js layout: onnx/model.onnx with tokenizer.json and config.json at the top', async () => {
    const folder = join(dir.path, 'transformers-js');
    writeModelFolder(folder, llamaModel().bytes, { layout: 'transformers.js', tokenizer: bpeTokenizer(TRANSCRIPT_TOKENIZER), config: { model_type: 'llama' } });
    const files = resolveModelFiles(folder);
    assert.equal(files.model, join(folder, 'onnx', 'model.onnx'));
    assert.equal(files.tokenizer, join(folder, 'tokenizer.json'));
    assert.equal(files.config, join(folder, 'config.json'));
    const model = await loadModel(folder, { cacheDir, provider: 'cpu' });
    assert.ok(model.tokenizer);
    assert.equal(model.requireTokenizer().encode('You see A.', false).length, 4);
    await model.dispose();
  });

  test('a bare .onnx file runs on token ids; asking it for a tokenizer names the folder and the fix', async () => {
    const folder = join(dir.path, 'bare');
    const file = writeModelFolder(folder, llamaModel().bytes);
    const model = await loadModel(file, { cacheDir, provider: 'cpu' });
    assert.equal(model.tokenizer, null);
    assert.equal((await model.forward([[1, 2, 3]])).logits[0].length, 50);
    assert.throws(
      () => model.requireTokenizer(),
      (err: unknown) => err instanceof ModelError && err.file === folder && /no tokenizer\.json/.test(err.message) && /save_pretrained/.test(err.fix),
    );
    await model.dispose();
  });

  test('a tokenizer with more tokens than the model embeds is refused, naming tokenizer.json', async () => {
    const folder = join(dir.path, 'mismatch');
    const alphabet = Array.from({ length: 60 }, (_, i) => String.fromCharCode(0x4e00 + i));
    writeModelFolder(folder, llamaModel().bytes, { tokenizer: bpeTokenizer({ style: 'metaspace', alphabet, merges: [] }) });
    await assert.rejects(
      loadModel(folder, { cacheDir, provider: 'cpu' }),
      (err: unknown) => err instanceof ModelError && err.file === join(folder, 'tokenizer.json') && /token ids up to 60, but the model's embedding has 50 rows/.test(err.message),
    );
  });

  test('folders without a model, with several candidates, or with a merged decoder say what to do', () => {
    const empty = join(dir.path, 'empty');
    mkdirSync(empty);
    assert.throws(() => resolveModelFiles(empty), (err: unknown) => err instanceof ModelError && err.file === empty && /no model\.onnx/.test(err.message));
    const merged = join(dir.path, 'merged');
    mkdirSync(join(merged, 'onnx'), { recursive: true });
    writeFileSync(join(merged, 'onnx', 'decoder_model.onnx'), '');
    writeFileSync(join(merged, 'onnx', 'decoder_model_merged.onnx'), '');
    assert.throws(() => resolveModelFiles(merged), (err: unknown) => err instanceof ModelError && /decoder_model_merged/.test(err.message) && /text-generation-with-past/.test(err.fix));
    assert.throws(() => resolveModelFiles(join(dir.path, 'missing')), (err: unknown) => err instanceof ModelError && /no such file/.test(err.message));
    const single = join(dir.path, 'single');
    writeModelFolder(single, llamaModel().bytes);
    assert.equal(resolveModelFiles(single).model, join(single, 'model.onnx'));
  });

  test('symbolic KV cache sizes are read from config.json, and their absence is an error naming the fix', async () => {
    const m = llamaModel({ kvCache: true });
    const bytes = symbolicCacheDims(m.bytes);
    const without = join(dir.path, 'no-config');
    writeModelFolder(without, bytes);
    await assert.rejects(loadModel(without, { cacheDir, provider: 'cpu' }), (err: unknown) => err instanceof ModelError && /config\.json/.test(err.fix));
    const withConfig = join(dir.path, 'with-config');
    writeModelFolder(withConfig, bytes, { config: { model_type: 'llama', hidden_size: 32, num_attention_heads: 4, num_key_value_heads: 2 } });
    const model = await loadModel(withConfig, { cacheDir, provider: 'cpu' });
    assert.equal(model.info.kvHeads, 2);
    assert.equal(model.info.headDim, 8);
    const ids = tokenIds(5, 50, 1);
    const batch = model.startSequences(1);
    await batch.append([ids.slice(0, 3)]);
    const next = await batch.append([ids.slice(3)]);
    assert.ok(maxAbsDiff(next.logits[0], rows(m.reference(ids).logits, 50, 4, 1)) < 1e-4);
    await model.dispose();
  });
});
