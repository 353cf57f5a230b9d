import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runModelCommand } from '../../../src/cli/commands/model';
import { ConfigError } from '../../../src/core/config';
import { tempDir, writeModelFolder } from '../../fixtures/lm/folders';
import { gptModel, llamaModel, maxAbsDiff, rows } from '../../fixtures/lm/models';

const dir = tempDir();
after(() => dir.remove());
const cache = ['--cache-dir', join(dir.path, 'cache'), '--provider', 'cpu'];

async function capture(argv: string[]): Promise<string[]> {
  const lines: string[] = [];
  assert.equal(await runModelCommand(argv, (line) => lines.push(line)), 0);
  return lines;
}

describe('icrl-lens model', () => {
  const llama = llamaModel({ kvCache: true });
  const folder = join(dir.path, 'llama');
  writeModelFolder(folder, llama.bytes);

  test('inspect prints the blocks, their taps, the KV cache and the providers', async () => {
    const text = (await capture(['inspect', folder, ...cache])).join('\n');
    assert.match(text, /blocks {6}3;/);
    for (const block of [0, 1, 2]) assert.match(text, new RegExp(`resid\\.${block} +<- \\S+ from .*attention: Softmax; norms: RMSNorm \\(decomposed\\)`));
    assert.match(text, /kv cache {4}3 layers, 2 key\/value heads of size 8/);
    assert.match(text, /providers {3}running on cpu/);

    const json = JSON.parse((await capture(['inspect', folder, '--json', ...cache])).join('\n'));
    assert.equal(json.info.blocks.length, 3);
    assert.deepEqual(json.taps, ['resid.0', 'resid.1', 'resid.2']);
    assert.equal(json.providers.provider, 'cpu');
    assert.ok(json.backends.some((b: { name: string }) => b.name === 'cpu'));
  });

  test('run on a bare .onnx file prints last-position logits and every residual, equal to the reference', async () => {
    const gpt = gptModel();
    const file = writeModelFolder(join(dir.path, 'gpt'), gpt.bytes);
    const out = JSON.parse((await capture(['run', file, '--ids', '1,2,3,4;5,6,7,0', '--mask', '1,1,1,1;1,1,1,0', '--json', ...cache])).join('\n'));
    const sequences = [
      [1, 2, 3, 4],
      [5, 6, 7],
    ];
    assert.equal(out.sequences.length, 2);
    sequences.forEach((ids, b) => {
      const ref = gpt.reference(ids);
      const printed = out.sequences[b];
      assert.deepEqual(printed.ids, ids);
      assert.ok(maxAbsDiff(printed.logits, rows(ref.logits, gpt.config.vocab, ids.length - 1, 1)) < 1e-4);
      for (let block = 0; block < 3; block++) {
        assert.equal(printed.residuals[block].length, ids.length);
        assert.ok(maxAbsDiff(printed.residuals[block].flat(), ref.taps[block]) < 1e-4);
      }
    });
    const text = await capture(['run', file, '--ids', '9,8', ...cache]);
    assert.ok(text.some((l) => l.startsWith('  resid.2 [2 x 16]')));
  });

  test('arguments it cannot use are errors that name them', async () => {
    const print = () => undefined;
    await assert.rejects(runModelCommand(['run', folder, ...cache], print), (err: unknown) => err instanceof ConfigError && err.field === '--ids');
    await assert.rejects(runModelCommand(['run', folder, '--ids', '1,x', ...cache], print), ConfigError);
    await assert.rejects(runModelCommand(['run', folder, '--ids', '1,2,3', '--mask', '1,0,1', ...cache], print), /padding \(0\) only at either end/);
    await assert.rejects(runModelCommand(['explain', folder], print), ConfigError);
    await assert.rejects(runModelCommand(['inspect', folder, '--provider', 'tpu'], print), (err: unknown) => err instanceof ConfigError && err.field === '--provider');
    await assert.rejects(runModelCommand(['run', folder, '--ids', '1,99', ...cache], print), /token id 99, outside the model's vocabulary \[0, 50\)/);
  });
});
