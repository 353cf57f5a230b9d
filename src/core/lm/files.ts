import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ModelError } from './errors';

/**
 * Where a model's files are. A model is a folder with `model.onnx` (weights
 * inline or in external data files beside it), `tokenizer.json` and, optionally,
 * `config.json` and `tokenizer_config.json`; the transformers.js layout keeps the
 * graph in `onnx/model.onnx` instead. A bare `.onnx` file is a model too: it runs
 * on token ids, and finds a tokenizer beside it (or one folder up, for onnx/) if
 * there is one.
 */
export interface ModelFiles {
  /** the folder the user named, or the folder holding the bare .onnx file */
  root: string;
  model: string;
  tokenizer: string | null;
  tokenizerConfig: string | null;
  config: string | null;
  /** the folders searched for tokenizer.json, for the missing-tokenizer error */
  searched: string[];
}

/** The Hugging Face config.json fields the runtime can use when the graph leaves them symbolic. */
export interface ModelConfig {
  kvHeads: number | null;
  headDim: number | null;
}

const FOLDER_LAYOUTS = ['model.onnx', join('onnx', 'model.onnx')];

function findOptional(folders: string[], name: string): string | null {
  for (const folder of folders) {
    const path = join(folder, name);
    if (existsSync(path)) return path;
  }
  return null;
}

export function resolveModelFiles(path: string): ModelFiles {
  const target = resolve(path);
  if (!existsSync(target)) {
    throw new ModelError(target, 'no such file or folder', 'give a model folder (with model.onnx or onnx/model.onnx) or a .onnx file');
  }
  let root: string;
  let model: string;
  if (statSync(target).isDirectory()) {
    root = target;
    const layout = FOLDER_LAYOUTS.map((f) => join(target, f)).find((f) => existsSync(f));
    if (layout) {
      model = layout;
    } else {
      const found = [target, join(target, 'onnx')].flatMap((dir) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.onnx')).map((f) => join(dir, f)) : []));
      if (found.length !== 1) {
        const merged = found.some((f) => basename(f) === 'decoder_model_merged.onnx');
        throw new ModelError(
          target,
          `no model.onnx or onnx/model.onnx in the folder${found.length > 1 ? ` (it holds ${found.map((f) => basename(f)).join(', ')}; which one is the model?)` : ''}`,
          merged
            ? 'export a single decoder with optimum-cli export onnx --task text-generation-with-past (it writes model.onnx), or name the .onnx file to use'
            : 'put the exported graph at model.onnx (or onnx/model.onnx), or give the path of the .onnx file itself',
        );
      }
      model = found[0];
    }
  } else {
    if (!target.endsWith('.onnx')) {
      throw new ModelError(target, 'not a .onnx file or a model folder', 'give a model folder (with model.onnx or onnx/model.onnx) or a .onnx file');
    }
    model = target;
    root = dirname(target);
  }
  const modelDir = dirname(model);
  const searched = basename(modelDir) === 'onnx' ? [modelDir, dirname(modelDir)] : [modelDir];
  if (!searched.includes(root)) searched.push(root);
  return {
    root,
    model,
    tokenizer: findOptional(searched, 'tokenizer.json'),
    tokenizerConfig: findOptional(searched, 'tokenizer_config.json'),
    config: findOptional(searched, 'config.json'),
    searched,
  };
}

export function missingTokenizerError(files: ModelFiles): ModelError {
  return new ModelError(
    files.root,
    `no tokenizer.json for ${basename(files.model)} (looked in ${files.searched.join(' and ')}), so text cannot be turned into token ids`,
    "save the model's Hugging Face tokenizer beside it: AutoTokenizer.from_pretrained(MODEL).save_pretrained(FOLDER) writes tokenizer.json; token ids can still be run directly with `icrl-lens model run PATH --ids ...`",
  );
}

function positiveInteger(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : null;
}

export function readModelConfig(file: string | null): ModelConfig {
  if (!file) return { kvHeads: null, headDim: null };
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new ModelError(file, `not a readable JSON file (${err instanceof Error ? err.message : String(err)})`, 'save the config again with model.config.save_pretrained(folder), or remove it');
  }
  // Llama names them num_key_value_heads/num_attention_heads/hidden_size, GPT-2 n_head/n_embd
  const heads = positiveInteger(json.num_attention_heads) ?? positiveInteger(json.n_head);
  const hidden = positiveInteger(json.hidden_size) ?? positiveInteger(json.n_embd);
  return {
    kvHeads: positiveInteger(json.num_key_value_heads) ?? heads,
    headDim: positiveInteger(json.head_dim) ?? (heads && hidden ? hidden / heads : null),
  };
}
