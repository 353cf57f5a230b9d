/**
 * What the runtime costs: the residual-stream taps against the model as exported
 * (the same batch through a plain onnxruntime session on the original graph),
 * and the KV cache against recomputing the prompt at every choice of a played
 * two-step game. Runs on the default model when it is there, else on a
 * Llama-style stand-in of the same shape with random weights.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import type { BenchReport } from '../../../bench/report';
import { buildLlamaModel, randomLlamaWeights } from '../../../test/fixtures/lm/llama';
import type { TinyConfig } from '../../../test/fixtures/lm/weights';
import { wordLevelTokenizer } from '../../../test/fixtures/lm/wordTokenizer';
import type { Transcript } from '../prompts/transcript';
import { Rng } from '../random';
import { twoStepBatch } from '../simulation/twoStep';
import { loadModel, type LanguageModel } from './runtime';
import { deltaInput, prepareModel, tapOutput } from './surgery';

const REPO = join(__dirname, '..', '..', '..');
export const DEFAULT_MODEL = join(REPO, 'models', 'icrl-tiny');

/** The default model's shape (python/train_default_model.py), for the stand-in. */
export const STAND_IN_CONFIG: TinyConfig = { vocab: 300, dModel: 128, layers: 4, heads: 4, kvHeads: 2, dFF: 344, maxPositions: 2048, eps: 1e-5 };

const TAP_BATCH = { sequences: 8, tokens: 512 };
const TAP_REPEATS = 25;
const GAME_EPISODES = 30;
const REPORTED_EPISODES = [5, 10, 15, 20, 30];
/** growth is the cost of a game of GAME_EPISODES over one of half as many: 2 if linear, 4 if quadratic */
const HALF_GAME = GAME_EPISODES / 2;
/** games played side by side: one game alone, and a batch as the play loop runs parallel experiments */
const GAME_BATCHES = [
  { games: 1, repeats: 5 },
  { games: 8, repeats: 3 },
];

/**
 * Every session of the benchmark: onnxruntime's default threads, without
 * spinning. The idle workers of one session otherwise spin on the cores that
 * the next session's run needs: on a busy machine a pass that followed another
 * session's took up to twice as long, which biased the comparison by order.
 */
const SESSION_OPTIONS = { extra: { session: { 'intra_op.allow_spinning': '0' } } };

// ---------------------------------------------------------------- timing

const seconds = (from: number) => (performance.now() - from) / 1000;

/**
 * A variant timed as a whole, in two checkpoints: wall-clock seconds, and the
 * CPU seconds of this process (onnxruntime's threads included). CPU time counts
 * only this process's own work, so other processes on the machine move it far
 * less than the wall clock; it understates what serial work costs in waiting,
 * since the graph itself runs on several cores.
 */
export function timed(f: () => Promise<unknown>): () => Promise<number[]> {
  return async () => {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await f();
    const cpu = process.cpuUsage(cpu0);
    return [seconds(t0), (cpu.user + cpu.system) / 1e6];
  };
}

/**
 * Runs the variants round by round, `repeats` rounds, each round in a fresh
 * order drawn from `seed`, so that no variant always runs after the same one
 * and a slow spell of a busy machine falls on all of them alike. Each variant
 * returns checkpoints in seconds (the times at which its stages ended); the
 * result holds, per variant, per round, its checkpoints. With `warmUp`, one
 * untimed run of each comes first.
 */
export async function timeInterleaved(variants: readonly (() => Promise<number[]>)[], repeats: number, warmUp = true, seed = 1): Promise<number[][][]> {
  if (warmUp) for (const v of variants) await v();
  const rng = Rng.fromSeed(seed);
  const order = variants.map((_, v) => v);
  const runs: number[][][] = variants.map(() => []);
  for (let r = 0; r < repeats; r++) {
    for (const v of rng.shuffle(order)) runs[v].push(await variants[v]());
  }
  return runs;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The median over rounds of checkpoint `c`. */
export function medianAt(rounds: readonly number[][], c = 0): number {
  return median(rounds.map((marks) => marks[c]));
}

// ---------------------------------------------------------------- the model

export interface BenchModel {
  model: LanguageModel;
  /** what was measured, for the report */
  description: string;
  /** the folder rewritten models are cached in (a temporary one) */
  cacheDir: string;
  dispose: () => Promise<void>;
}

/**
 * Loads `folder`, or, where it is null, writes a Llama-style transformer of
 * shape `config` with random weights and a word-level tokenizer over `texts` (the
 * default model's kind of tokenizer) to a temporary folder and loads that.
 */
export async function openBenchModel(folder: string | null, texts: readonly string[], config: TinyConfig = STAND_IN_CONFIG): Promise<BenchModel> {
  const dir = mkdtempSync(join(tmpdir(), 'icrl-lens-bench-'));
  const cacheDir = join(dir, 'cache');
  let path = folder;
  if (path === null) {
    path = join(dir, 'stand-in');
    mkdirSync(path);
    writeFileSync(join(path, 'model.onnx'), buildLlamaModel(randomLlamaWeights(1, config), { kvCache: true }));
    writeFileSync(join(path, 'tokenizer.json'), JSON.stringify(wordLevelTokenizer(texts)));
  }
  const model = await loadModel(path, { cacheDir, sessionOptions: SESSION_OPTIONS });
  const { dModel, blocks, vocab, kvCache } = model.info;
  const shape = `d_model ${dModel}, ${blocks.length} blocks, vocab ${vocab}, ${kvCache ? 'KV cache' : 'no KV cache'}`;
  const description =
    folder === null
      ? `a Llama-style stand-in with random weights (${shape}); the default model (models/icrl-tiny) is not there`
      : `${relative(REPO, folder) || folder} (${shape})`;
  return {
    model,
    description: `${description}, on ${model.providers.provider} (onnxruntime's default threads, no spinning)`,
    cacheDir,
    dispose: async () => {
      await model.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------- tap overhead

export interface TapVariant {
  name: string;
  /** one pass over the batch: the next-token logits after each sequence, and how many residual-stream tensors came back */
  run: () => Promise<{ logits: Float32Array[]; taps: number }>;
}

function intTensor(session: ort.InferenceSession, name: string, values: number[], dims: number[]): ort.Tensor {
  const meta = session.inputMetadata.find((m) => m.name === name);
  return meta?.isTensor && meta.type === 'int32'
    ? new ort.Tensor('int32', Int32Array.from(values), dims)
    : new ort.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), dims);
}

/** Feeds for one pass of equal-length sequences from position 0, with an empty KV cache and, for the rewritten graph, zero deltas. */
function plainFeeds(model: LanguageModel, session: ort.InferenceSession, sequences: readonly (readonly number[])[]): Record<string, ort.Tensor> {
  const { inputs, kvCache, blocks, dModel } = model.info;
  const [batch, width] = [sequences.length, sequences[0].length];
  const feeds: Record<string, ort.Tensor> = { [inputs.ids]: intTensor(session, inputs.ids, sequences.flat(), [batch, width]) };
  if (inputs.attentionMask) feeds[inputs.attentionMask] = intTensor(session, inputs.attentionMask, new Array<number>(batch * width).fill(1), [batch, width]);
  if (inputs.positionIds) {
    feeds[inputs.positionIds] = intTensor(session, inputs.positionIds, Array.from({ length: batch * width }, (_, k) => k % width), [batch, width]);
  }
  for (const { key, value } of kvCache?.past ?? []) {
    const shape = [batch, model.info.kvHeads!, 0, model.info.headDim!];
    for (const name of [key, value]) {
      feeds[name] = kvCache!.elemType === 'float16' ? new ort.Tensor('float16', new Uint16Array(0), shape) : new ort.Tensor('float32', new Float32Array(0), shape);
    }
  }
  if (session.inputNames.includes(deltaInput(0))) {
    const zero = new ort.Tensor('float32', new Float32Array(dModel), [1, 1, dModel]);
    for (const block of blocks) feeds[deltaInput(block.index)] = zero;
  }
  return feeds;
}

function lastLogits(logits: ort.Tensor, batch: number): Float32Array[] {
  const data = logits.data as Float32Array;
  const [width, vocab] = [logits.dims[1], logits.dims[2]];
  return Array.from({ length: batch }, (_, b) => data.slice(((b + 1) * width - 1) * vocab, (b + 1) * width * vocab));
}

function plainVariant(name: string, model: LanguageModel, session: ort.InferenceSession, sequences: readonly (readonly number[])[], fetchTaps: boolean): TapVariant {
  const feeds = plainFeeds(model, session, sequences);
  const fetches = [model.info.logits, ...(fetchTaps ? model.info.blocks.map((b) => tapOutput(b.index)) : [])];
  return {
    name,
    run: async () => {
      const out = await session.run(feeds, fetches);
      return { logits: lastLogits(out[model.info.logits], sequences.length), taps: fetches.length - 1 };
    },
  };
}

/**
 * The same batch four ways, from the model as exported to the runtime's tapped
 * pass, so the overhead can be told apart: the graph's extra Adds, the tap
 * outputs read back, and the runtime's own feeding and copying. The plain
 * sessions get their feeds built once; the runtime builds them on every call,
 * as it does in use. Release the sessions with `close`.
 */
export async function tapVariants(bench: BenchModel, sequences: readonly (readonly number[])[]): Promise<{ variants: TapVariant[]; close: () => Promise<void> }> {
  const { model } = bench;
  if (sequences.some((s) => s.length !== sequences[0].length)) throw new RangeError('the tap benchmark needs sequences of equal length');
  const options = { ...SESSION_OPTIONS, executionProviders: [model.providers.provider] };
  const original = await ort.InferenceSession.create(model.files.model, options);
  // the rewritten graph lives in the cache, so weights in external files are looked for where the original is (as the runtime does)
  const prepared = prepareModel(model.files.model, bench.cacheDir);
  const external = prepared.externalDataFolder === null ? {} : { model_external_initializers_file_folder_path: prepared.externalDataFolder };
  const rewrittenOptions = { ...options, extra: { session: { ...SESSION_OPTIONS.extra.session, ...external } } };
  const rewritten =
    typeof prepared.model === 'string' ? await ort.InferenceSession.create(prepared.model, rewrittenOptions) : await ort.InferenceSession.create(prepared.model, rewrittenOptions);
  const variants: TapVariant[] = [
    plainVariant('original graph (untapped)', model, original, sequences, false),
    plainVariant('rewritten graph, taps not read', model, rewritten, sequences, false),
    plainVariant('rewritten graph, all taps read', model, rewritten, sequences, true),
    {
      name: 'runtime forward, all taps (tapped)',
      run: async () => {
        const out = await model.forward(sequences, { taps: 'all' });
        return { logits: out.logits, taps: out.taps.size };
      },
    },
  ];
  return { variants, close: async () => void (await Promise.all([original.release(), rewritten.release()])) };
}

// ---------------------------------------------------------------- KV cache against recomputation

export interface GamePlan {
  /** token ids of each game's whole transcript */
  ids: number[][];
  /** per decision, in order, per game: the token position whose next-token logits choose the answer */
  decisions: number[][];
  /** per episode: the index of its last decision */
  episodeEnds: number[];
}

/** Where each game's choices are read, from its transcript and the model's tokenizer; the games must have the same episodes and choices per episode. */
export function gamePlan(model: LanguageModel, transcripts: readonly Transcript<unknown>[]): GamePlan {
  const tokenizer = model.requireTokenizer();
  const encoded = transcripts.map((t) => tokenizer.tokenizeWithOffsets(t.text));
  const shape = (t: Transcript<unknown>) => t.spans.map((s) => s.episode).join();
  if (transcripts.some((t) => shape(t) !== shape(transcripts[0]))) throw new RangeError('the games of a batch must have the same episodes and choices per episode');
  const spans = transcripts[0].spans;
  return {
    ids: encoded.map((e) => e.ids),
    decisions: spans.map((_, k) => transcripts.map((t, b) => tokenizer.answerTokens(encoded[b], t.spans[k], t.spans[k].allowed).position)),
    episodeEnds: spans.flatMap((s, k) => (k + 1 === spans.length || spans[k + 1].episode !== s.episode ? [k] : [])),
  };
}

export type GameMode = 'kv cache' | 'recompute';

/**
 * Plays the first `episodes` episodes of the planned games as the play loop
 * does: at every choice the model reads the transcript up to it and gives its
 * next-token logits. With the KV cache each choice appends the tokens since the
 * last one; without, each recomputes the whole prefix. Returns the seconds
 * elapsed at the end of each episode: the cost of a game of that many episodes.
 */
export async function playGame(
  model: LanguageModel,
  plan: GamePlan,
  mode: GameMode,
  episodes = plan.episodeEnds.length,
  onChoice?: (decision: number, logits: Float32Array[]) => void,
): Promise<number[]> {
  const t0 = performance.now();
  const batch = mode === 'kv cache' ? model.startSequences(plan.ids.length) : null;
  const fed = plan.ids.map(() => 0);
  const marks: number[] = [];
  for (let k = 0; k <= plan.episodeEnds[episodes - 1]; k++) {
    const upTo = plan.decisions[k];
    let logits: Float32Array[];
    if (batch) {
      logits = (await batch.append(plan.ids.map((ids, b) => ids.slice(fed[b], upTo[b] + 1)))).logits;
      upTo.forEach((p, b) => (fed[b] = p + 1));
    } else {
      logits = (await model.forward(plan.ids.map((ids, b) => ids.slice(0, upTo[b] + 1)))).logits;
    }
    onChoice?.(k, logits);
    if (plan.episodeEnds.includes(k)) marks.push(seconds(t0));
  }
  return marks;
}

// ---------------------------------------------------------------- the report

const round = (x: number, digits = 3) => Number(x.toPrecision(digits));
const thousands = (x: number) => Math.round(x).toLocaleString('en-US');

async function measureTaps(bench: BenchModel, transcripts: readonly Transcript<unknown>[], log: (line: string) => void): Promise<Pick<BenchReport, 'rows' | 'summary'>> {
  const tokenizer = bench.model.requireTokenizer();
  const { sequences: count, tokens } = TAP_BATCH;
  const sequences = transcripts.slice(0, count).map((t) => tokenizer.encode(t.text).slice(0, tokens));
  if (sequences.length < count || sequences.some((s) => s.length < tokens)) throw new RangeError(`the tap benchmark needs ${count} transcripts of ${tokens} tokens or more`);
  log(`taps: ${count} sequences x ${tokens} tokens, ${TAP_REPEATS} interleaved rounds`);
  const { variants, close } = await tapVariants(bench, sequences);
  const runs = await timeInterleaved(
    variants.map((v) => timed(v.run)),
    TAP_REPEATS,
  );
  await close();
  const [WALL, CPU] = [0, 1];
  const perSecond = (c: number) => runs.map((rounds) => (count * tokens) / medianAt(rounds, c));
  const [wall, cpu] = [perSecond(WALL), perSecond(CPU)];
  const overhead = (rates: number[]) => rates.map((rate) => 100 * (rates[0] / rate - 1));
  const [wallOverhead, cpuOverhead] = [overhead(wall), overhead(cpu)];
  const rows = variants.map((v, i) => ({
    measure: 'taps',
    variant: v.name,
    sequences: count,
    tokens,
    'median s': round(medianAt(runs[i], WALL)),
    'tokens/s': Math.round(wall[i]),
    'overhead vs untapped %': round(wallOverhead[i], 2),
    'tokens per cpu-second': Math.round(cpu[i]),
    'cpu overhead vs untapped %': round(cpuOverhead[i], 2),
  }));
  const last = variants.length - 1;
  const both = (i: number) => `${wallOverhead[i].toFixed(1)}% / ${cpuOverhead[i].toFixed(1)}%`;
  const summary = [
    `tap overhead: ${wallOverhead[last].toFixed(1)}% (tapped ${thousands(wall[last])} tok/s vs untapped ${thousands(wall[0])} tok/s); ` +
      `in CPU time ${cpuOverhead[last].toFixed(1)}% (the steadier measure when other work shares the machine)`,
    `  step by step (wall / CPU): delta inputs in the graph ${both(1)}, + taps read out ${both(2)}, + the runtime's feeding and copying ${both(last)}`,
  ];
  return { rows, summary };
}

async function measureGames(bench: BenchModel, transcripts: readonly Transcript<unknown>[], log: (line: string) => void): Promise<Pick<BenchReport, 'rows' | 'summary'>> {
  const { model } = bench;
  if (!model.hasKvCache) return { rows: [], summary: ['30-episode game: not measured, the model has no KV cache'] };
  const rows: BenchReport['rows'] = [];
  const summary: string[] = [];
  for (const { games, repeats } of GAME_BATCHES) {
    const plan = gamePlan(model, transcripts.slice(0, games));
    log(`game: ${games === 1 ? 'one game' : `${games} games side by side`}, ${plan.decisions.length} choices each, ${repeats} interleaved rounds`);
    for (const mode of ['kv cache', 'recompute'] as const) await playGame(model, plan, mode, 5);
    const [kv, recompute] = await timeInterleaved(
      (['kv cache', 'recompute'] as const).map((mode) => () => playGame(model, plan, mode, GAME_EPISODES)),
      repeats,
      false,
    );
    // checkpoint e - 1 is the end of episode e
    for (const episodes of REPORTED_EPISODES) {
      const last = plan.decisions[plan.episodeEnds[episodes - 1]];
      rows.push({
        measure: 'game',
        games,
        episodes,
        choices: plan.episodeEnds[episodes - 1] + 1,
        'tokens per game': Math.round(last.reduce((sum, p) => sum + p + 1, 0) / games),
        'kv cache s': round(medianAt(kv, episodes - 1)),
        'recompute s': round(medianAt(recompute, episodes - 1)),
        'recompute / kv cache': round(medianAt(recompute, episodes - 1) / medianAt(kv, episodes - 1)),
      });
    }
    const whole = (runs: number[][]) => medianAt(runs, GAME_EPISODES - 1);
    const growth = (runs: number[][]) => median(runs.map((marks) => marks[GAME_EPISODES - 1] / marks[HALF_GAME - 1])).toFixed(1);
    const label = games === 1 ? `${GAME_EPISODES}-episode game` : `${games} ${GAME_EPISODES}-episode games side by side`;
    summary.push(
      `${label}: KV cache ${whole(kv).toFixed(2)} s vs recompute ${whole(recompute).toFixed(2)} s (${(whole(recompute) / whole(kv)).toFixed(1)}x); ` +
        `growth ${HALF_GAME}->${GAME_EPISODES} episodes: KV ${growth(kv)}x, recompute ${growth(recompute)}x (2x is linear, 4x quadratic)`,
    );
  }
  return { rows, summary };
}

/** The whole benchmark on the model folder `folder`, or on the stand-in where it is null. */
export async function benchRuntime(folder: string | null, log: (line: string) => void): Promise<BenchReport> {
  const games = Math.max(TAP_BATCH.sequences, ...GAME_BATCHES.map((b) => b.games));
  const transcripts = twoStepBatch({ experiments: games, episodes: GAME_EPISODES, seed: 0 }).map((r) => r.transcript);
  const bench = await openBenchModel(folder, transcripts.map((t) => t.text));
  try {
    const taps = await measureTaps(bench, transcripts, log);
    const game = await measureGames(bench, transcripts, log);
    return { name: 'lm runtime', rows: [...taps.rows, ...game.rows], summary: [`model: ${bench.description}`, ...taps.summary, ...game.summary] };
  } finally {
    await bench.dispose();
  }
}

export default function runtimeBench(log: (line: string) => void): Promise<BenchReport> {
  return benchRuntime(existsSync(DEFAULT_MODEL) ? DEFAULT_MODEL : null, log);
}
