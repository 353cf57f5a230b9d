import * as ort from 'onnxruntime-node';
import { checkOneOf, ConfigError } from '../../core/config';
import type { ForwardResult } from '../../core/lm/passes';
import { describeProviders, PROVIDERS, type ProviderChoice } from '../../core/lm/providers';
import { loadModel, type LanguageModel, type LoadOptions } from '../../core/lm/runtime';
import { deltaInput, tapOutput } from '../../core/lm/surgery';
import { parseOptions } from '../args';
import type { Command } from './index';

const HELP = `icrl-lens model inspect PATH [options]
icrl-lens model run PATH --ids IDS [options]

PATH is a model folder (model.onnx or onnx/model.onnx, tokenizer.json, config.json)
or a bare .onnx file.

inspect  prints what the graph analysis found: the blocks and the residual-stream
         tensor each one taps, the inputs, the KV cache, and the execution
         providers (which one runs and why the others do not).
run      runs token ids directly (no tokenizer needed) and prints, per sequence,
         the logits at its last valid position and every block's residual stream
         (resid.{i}) at every position, to check an export by hand against
         another implementation.

Options:
  --ids IDS         run: token ids, comma-separated, sequences separated by ';'
                    (e.g. "1,2,3;4,5")
  --mask MASK       run: 1 for a token, 0 for padding, same layout as --ids
                    (e.g. "1,1,1;1,1,0"); padding may only sit at either end
  --json            print JSON instead of text
  --provider P      auto, cuda, webgpu or cpu (default auto: the first that works)
  --cache-dir DIR   where rewritten models are cached (default: the user cache)`;

type Print = (line: string) => void;

function parseRows(option: string, text: string): number[][] {
  return text.split(';').map((row) =>
    row.split(',').map((cell) => {
      const value = Number(cell.trim());
      if (cell.trim() === '' || !Number.isInteger(value) || value < 0) {
        throw new ConfigError(option, text, 'non-negative integers separated by commas, sequences separated by semicolons');
      }
      return value;
    }),
  );
}

/** Keeps each sequence's unmasked tokens; the runtime pads and masks them itself. */
function applyMask(ids: number[][], maskText: string | undefined): number[][] {
  if (maskText === undefined) return ids;
  const mask = parseRows('--mask', maskText);
  if (mask.length !== ids.length || mask.some((row, b) => row.length !== ids[b].length || row.some((m) => m > 1))) {
    throw new ConfigError('--mask', maskText, 'zeros and ones in the same layout as --ids');
  }
  return ids.map((row, b) => {
    const kept = mask[b].map((m, j) => (m === 1 ? j : -1)).filter((j) => j >= 0);
    if (kept.length === 0 || kept[kept.length - 1] - kept[0] + 1 !== kept.length) {
      throw new ConfigError('--mask', maskText, `at least one 1 per sequence, with padding (0) only at either end (sequence ${b} is not)`);
    }
    return row.slice(kept[0], kept[kept.length - 1] + 1);
  });
}

const format = (values: Float32Array) => Array.from(values, (v) => v.toPrecision(6)).join(' ');

function inspect(lm: LanguageModel, json: boolean, print: Print): void {
  const { info, files } = lm;
  const backends = ort.listSupportedBackends();
  if (json) {
    const taps = info.blocks.map((b) => tapOutput(b.index));
    const deltas = info.blocks.map((b) => deltaInput(b.index));
    print(JSON.stringify({ files, info, providers: lm.providers, backends, taps, deltas }, null, 2));
    return;
  }
  const kv = info.kvCache;
  const cache = kv
    ? `${kv.layers} layers, ${info.kvHeads} key/value heads of size ${info.headDim}, ${kv.elemType} (past_key_values.{i}.key/value -> present.{i}.key/value)`
    : 'none (appends recompute whole sequences)';
  print(`model       ${files.model}`);
  print(`hash        ${info.hash}`);
  print(`tokenizer   ${files.tokenizer ?? 'none (token ids only)'}`);
  print(`config      ${files.config ?? 'none'}`);
  print(`sizes       d_model ${info.dModel}, vocabulary ${info.vocab}, residual stream ${info.residualType}`);
  print(`inputs      ${[info.inputs.ids, info.inputs.attentionMask, info.inputs.positionIds].filter((n) => n !== null).join(', ')}`);
  print(`kv cache    ${cache}`);
  print(`embedding   ${info.embedding.node} of ${info.embedding.weight}`);
  print(`blocks      ${info.blocks.length}; block i adds input delta.{i} to its output and exposes the sum as resid.{i}`);
  for (const b of info.blocks) {
    const adds = `${b.adds} residual Add${b.adds > 1 ? 's' : ''}`;
    print(`  ${String(b.index).padStart(3)}  ${tapOutput(b.index).padEnd(9)} <- ${b.tap} from ${b.node}; ${adds}; attention: ${b.attention}; norms: ${b.norms.join(', ')}`);
  }
  print(`final norm  ${info.finalNorm} -> ${info.logits}`);
  print(`backends    ${backends.map((b) => `${b.name}${b.bundled ? '' : ' (installed separately)'}`).join(', ')}`);
  print(`providers   running on ${lm.providers.provider}`);
  for (const line of describeProviders(lm.providers)) print(`  ${line}`);
}

function printRun(lm: LanguageModel, sequences: number[][], result: ForwardResult, json: boolean, print: Print): void {
  const blocks = lm.info.blocks.map((b) => b.index);
  if (json) {
    print(
      JSON.stringify({
        model: lm.files.model,
        hash: lm.info.hash,
        provider: lm.providers.provider,
        vocab: result.vocab,
        dModel: result.dModel,
        sequences: sequences.map((ids, b) => ({
          ids,
          lastPosition: ids.length - 1,
          logits: Array.from(result.logits[b]),
          residuals: blocks.map((block) => ids.map((_, p) => Array.from(result.taps.get(block)![b].subarray(p * result.dModel, (p + 1) * result.dModel)))),
        })),
      }),
    );
    return;
  }
  print(`model ${lm.files.model} on ${lm.providers.provider}; vocabulary ${result.vocab}, d_model ${result.dModel}`);
  sequences.forEach((ids, b) => {
    print(`sequence ${b}: ${ids.length} tokens [${ids.join(', ')}]`);
    print(`  logits at position ${ids.length - 1}:`);
    print(`    ${format(result.logits[b])}`);
    for (const block of blocks) {
      print(`  ${tapOutput(block)} [${ids.length} x ${result.dModel}]:`);
      const rows = result.taps.get(block)![b];
      ids.forEach((_, p) => print(`    ${String(p).padStart(4)}: ${format(rows.subarray(p * result.dModel, (p + 1) * result.dModel))}`));
    }
  });
}

/** The model command with its output lines sent to `print`, so it can be run in tests. */
export async function runModelCommand(argv: string[], print: Print): Promise<number> {
  const { values, positionals } = parseOptions(
    argv,
    {
      ids: { type: 'string' },
      mask: { type: 'string' },
      json: { type: 'boolean', default: false },
      provider: { type: 'string', default: 'auto' },
      'cache-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    true,
  );
  if (values.help) {
    print(HELP);
    return 0;
  }
  const [action, path, ...extra] = positionals;
  if (!['inspect', 'run'].includes(action ?? '') || path === undefined || extra.length > 0) {
    throw new ConfigError('model', positionals.join(' '), "'inspect PATH' or 'run PATH --ids IDS' (see icrl-lens model --help)");
  }
  const options: LoadOptions = { provider: checkOneOf<ProviderChoice>('--provider', values.provider, ['auto', ...PROVIDERS]) };
  if (values['cache-dir'] !== undefined) options.cacheDir = values['cache-dir'];
  if (action === 'run' && values.ids === undefined) throw new ConfigError('--ids', undefined, 'token ids to run, e.g. "1,2,3;4,5"');
  const sequences = action === 'run' ? applyMask(parseRows('--ids', values.ids!), values.mask) : [];
  const loaded = await loadModel(path, options);
  try {
    if (action === 'inspect') {
      inspect(loaded, values.json === true, print);
    } else {
      printRun(loaded, sequences, await loaded.forward(sequences, { taps: 'all' }), values.json === true, print);
    }
  } finally {
    await loaded.dispose();
  }
  return 0;
}

export const model: Command = {
  summary: 'inspect an ONNX transformer, or run token ids through it with every block tapped',
  run: (argv) => runModelCommand(argv, (line) => console.log(line)),
};
