import { checkInteger, checkKnownKeys, checkNumber } from '../config';
import { TwoStepTask, twoStepConfig, type TwoStepConfig, type TwoStepEpisode } from '../envs/twoStep';
import type { Transition } from '../envs/types';
import { twoStepPrompt, twoStepTranscript, type DecisionPrompt, type TwoStepPromptOptions } from '../prompts/twoStep';
import type { Transcript } from '../prompts/transcript';
import { Rng } from '../random';
import { answerDistribution, chooseAnswer, DEFAULT_PLAY_POLICY, type AnswerPolicy } from './answers';
import type { ForwardResult, Interventions } from './passes';
import { NOT_AN_ANSWER, type ResidualRecorder } from './recorder';
import type { LanguageModel, SequenceBatch } from './runtime';
import type { EncodedText, LmTokenizer } from './tokenizer';

export interface PlayOptions {
  experiments: number;
  episodes: number;
  /** Master seed; experiment i gets the same task as experiment i of a simulated batch with this seed. */
  seed: number;
  /** Opening episodes whose choices follow a uniform random policy (the paper used 7). */
  randomEpisodes: number;
  policy: AnswerPolicy;
  /** Experiments run side by side in one batch of sequences. */
  batchSize: number;
  config: Partial<TwoStepConfig>;
  prompt: Partial<TwoStepPromptOptions>;
}

export const PLAY_DEFAULTS: PlayOptions = {
  experiments: 100,
  episodes: 30,
  seed: 0,
  randomEpisodes: 7,
  policy: DEFAULT_PLAY_POLICY,
  batchSize: 25,
  config: {},
  prompt: {},
};

export function playOptions(partial: Partial<PlayOptions> = {}): PlayOptions {
  checkKnownKeys('play', partial, Object.keys(PLAY_DEFAULTS));
  const o = { ...PLAY_DEFAULTS, ...partial };
  checkInteger('play.experiments', o.experiments, 1);
  checkInteger('play.episodes', o.episodes, 1);
  checkInteger('play.seed', o.seed);
  checkInteger('play.randomEpisodes', o.randomEpisodes, 0, o.episodes);
  checkInteger('play.batchSize', o.batchSize, 1);
  if (o.policy.kind === 'sample') checkNumber('play.policy.temperature', o.policy.temperature, 1e-6);
  twoStepConfig(o.config);
  return o;
}

/** Where and how a run records and intervenes: shared by play and watch. */
export interface RunHooks {
  /** Records the residual stream of its blocks at every decision point (and, if it asks, at every other token read). */
  recorder?: ResidualRecorder;
  interventions?: Interventions;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/** One decision the model took (or watched being taken at random). */
export interface Decision {
  episode: number;
  step: number;
  /** The model's distribution over the allowed labels, in action order. */
  logProbs: number[];
  action: number;
  /** false in the random opening episodes: the action did not come from the model. */
  byModel: boolean;
  /** Token position whose logits chose the action. */
  position: number;
  /** Id of the recorded residual rows, when recording. */
  row: number | null;
  /**
   * At a spaceship choice after the first trip, when the recorder keeps every
   * position: the id of the recorded rows of the token showing the previous
   * trip's treasure count, where the model read its newest reward. Otherwise null.
   */
  rewardRow: number | null;
}

/** A played experiment, in the shape the learners and the analysis use. */
export interface PlayedExperiment {
  index: number;
  seed: number;
  episodes: TwoStepEpisode[];
  transitions: Transition[];
  /** Whether each transition's action came from the model (the ones a fitted learner is scored on). */
  scored: boolean[];
  decisions: Decision[];
  transcript: Transcript<unknown>;
}

interface Game {
  index: number;
  seed: number;
  task: TwoStepTask;
  rng: Rng;
  episodes: TwoStepEpisode[];
  pending: { firstAction: number; secondState: number } | null;
  decisions: Decision[];
  /** Token ids already fed to the model. */
  fed: number[];
}

/** Play's hooks: a run's, and the actions to take in place of the model's. */
export interface PlayHooks extends RunHooks {
  /**
   * Per experiment, the action of every decision in order (two per episode),
   * taken whatever the model's distribution says: a previous run's choices, so
   * that an edited model's distributions are read on the same transcripts
   * (Decision.logProbs then scores those choices under the edited model).
   */
  forcedActions?: readonly (readonly number[])[];
}

/**
 * The model plays the two-step task: at every decision the text so far is
 * tokenised, the new tokens are appended to the model's sequence (with the KV
 * cache, each append costs only its new tokens), and the next-token distribution
 * restricted to the allowed labels decides.
 */
export async function playTwoStep(model: LanguageModel, options: Partial<PlayOptions> = {}, hooks: PlayHooks = {}): Promise<PlayedExperiment[]> {
  const o = playOptions(options);
  if (hooks.forcedActions) checkForcedActions(hooks.forcedActions, o);
  const tokenizer = model.requireTokenizer();
  const master = Rng.fromSeed(o.seed);
  const games: Game[] = Array.from({ length: o.experiments }, (_, index) => {
    const seed = master.int(0, 0x7fffffff);
    const rng = Rng.fromSeed(seed);
    const task = TwoStepTask.create(o.config, rng.int(0, 0x7fffffff));
    return { index, seed, task, rng: rng.fork(), episodes: [], pending: null, decisions: [], fed: [] };
  });
  const total = o.experiments * o.episodes * 2;
  let done = 0;
  for (let from = 0; from < games.length; from += o.batchSize) {
    const batch = games.slice(from, from + o.batchSize);
    const sequences = model.startSequences(batch.length);
    for (let decision = 0; decision < o.episodes * 2; decision++) {
      await decideAll(batch, sequences, tokenizer, o, hooks);
      done += batch.length;
      hooks.onProgress?.(done, total);
    }
    await hooks.recorder?.flush();
  }
  return games.map((g) => ({
    index: g.index,
    seed: g.seed,
    episodes: g.episodes,
    transitions: g.episodes.flatMap((ep) => [
      { state: 0, action: ep.firstAction, reward: 0, nextState: 1 + ep.secondState },
      { state: 1 + ep.secondState, action: ep.secondAction, reward: ep.reward, nextState: null },
    ]),
    scored: g.decisions.map((d) => d.byModel),
    decisions: g.decisions,
    transcript: twoStepTranscript(g.episodes, o.prompt),
  }));
}

/** How {@link scoreTwoStep} reads played experiments. */
export interface ScoreOptions {
  /** the prompt options the experiments were played with */
  prompt: Partial<TwoStepPromptOptions>;
  /** experiments scored side by side in one pass */
  batchSize: number;
  /**
   * the positions the delta functions are told of ({@link BlockResidual.marks}):
   * 'rewards', the tokens showing each trip's reward, as play marks them;
   * 'decisions', every decision point, where play's 'last' positions fall
   */
  marks: 'rewards' | 'decisions';
}

/**
 * The model's distribution over the labels at every decision of experiments
 * already played, read in one pass over each transcript instead of an append
 * per decision: per experiment and decision, the log-probabilities in action
 * order. Under interventions this scores the played choices under an edited
 * model, as `playTwoStep` with `forcedActions` does (the replay is its reference
 * in the tests and the benchmark).
 * An edit that play applies at each append's last token (a decision point) is
 * applied here at the marked positions with `marks: 'decisions'`.
 */
export async function scoreTwoStep(
  model: LanguageModel,
  played: readonly PlayedExperiment[],
  options: Partial<ScoreOptions> = {},
  hooks: Pick<RunHooks, 'interventions' | 'signal'> = {},
): Promise<number[][][]> {
  const o: ScoreOptions = { prompt: {}, batchSize: 10, marks: 'rewards', ...options };
  checkInteger('score.batchSize', o.batchSize, 1);
  const tokenizer = model.requireTokenizer();
  const replays = played.map((g) => replayedDecisions(tokenizer, g, o.prompt));
  const scores: number[][][] = [];
  for (let from = 0; from < replays.length; from += o.batchSize) {
    const batch = replays.slice(from, from + o.batchSize);
    const marks = batch.map((r) => (o.marks === 'decisions' ? r.decisions.map((d) => d.position) : r.decisions.flatMap((d) => (d.rewardToken === null ? [] : [d.rewardToken]))));
    const result = await model.forward(
      batch.map((r) => r.tokens),
      { allPositions: true, interventions: hooks.interventions, marks, signal: hooks.signal },
    );
    batch.forEach((r, b) => {
      const logits = result.logits[b];
      scores.push(r.decisions.map((d) => answerDistribution(logits.subarray(d.position * result.vocab, (d.position + 1) * result.vocab), d.candidates).logProbs));
    });
  }
  return scores;
}

/** A played experiment's tokens as play fed them, and its decisions' positions and labels, rebuilt from its episodes. */
function replayedDecisions(tokenizer: LmTokenizer, g: PlayedExperiment, prompt: Partial<TwoStepPromptOptions>): { tokens: number[]; decisions: EncodedDecision[] } {
  let tokens: number[] = [];
  const decisions = g.decisions.map((played, i) => {
    const episode = g.episodes[Math.floor(i / 2)];
    const pending = i % 2 === 0 ? null : { firstAction: episode.firstAction, secondState: episode.secondState };
    const d = encodeDecision(tokenizer, g.episodes.slice(0, Math.floor(i / 2)), pending, prompt);
    tokens = [...tokens, ...freshTokens(tokens, d, g.index, d.prompt.episode)];
    if (!g.transcript.text.startsWith(d.prompt.prefix) || d.position !== played.position) {
      throw new Error(
        `two-step scoring: experiment ${g.index}, decision ${i}: the prompt rebuilt from its episodes is not the text it was played on; ` +
          'score with the prompt options the experiments were played with',
      );
    }
    return d;
  });
  return { tokens, decisions };
}

function checkForcedActions(actions: readonly (readonly number[])[], o: PlayOptions): void {
  if (actions.length !== o.experiments) throw new RangeError(`forcedActions: ${actions.length} experiments' actions for ${o.experiments} experiments`);
  actions.forEach((list, e) => {
    if (list.length !== o.episodes * 2) throw new RangeError(`forcedActions: experiment ${e} has ${list.length} actions, ${o.episodes} episodes need ${o.episodes * 2}`);
    const bad = list.findIndex((a) => a !== 0 && a !== 1);
    if (bad >= 0) throw new RangeError(`forcedActions: experiment ${e}, decision ${bad}: action ${list[bad]} is not 0 or 1`);
  });
}

/** A decision's prompt, its tokens (with an answer in place) and where the model reads its answer. */
interface EncodedDecision {
  prompt: DecisionPrompt;
  encoded: EncodedText;
  /** the token position whose logits choose the answer */
  position: number;
  /** the allowed labels' token ids, in action order */
  candidates: number[];
  /** the position of the token showing the newest reward, or null */
  rewardToken: number | null;
}

function encodeDecision(
  tokenizer: LmTokenizer,
  episodes: readonly TwoStepEpisode[],
  pending: { firstAction: number; secondState: number } | null,
  prompt: Partial<TwoStepPromptOptions>,
): EncodedDecision {
  const p = twoStepPrompt(episodes, pending, prompt);
  // The text is tokenised with an answer in place, as the finished transcript will be, so a tokenizer
  // that joins the space before a label to the label splits the prefix as it will in the end.
  const encoded = tokenizer.tokenizeWithOffsets(p.prefix + p.allowed[0]);
  const { position, candidates } = tokenizer.answerTokens(encoded, { start: p.prefix.length, end: encoded.text.length }, p.allowed);
  // The token showing the newest reward, marked so that an intervention can edit it alone (see SplicePositions 'marked').
  return { prompt: p, encoded, position, candidates, rewardToken: p.rewardAt === null ? null : tokenAt(encoded, p.rewardAt) };
}

/** The tokens to feed for a decision, given those already fed; throws if tokenising the longer text changed any of them. */
function freshTokens(fed: readonly number[], d: EncodedDecision, experiment: number, episode: number): number[] {
  const ids = d.encoded.ids.slice(0, d.position + 1);
  if (fed.some((id, k) => ids[k] !== id)) {
    throw new Error(
      `two-step play: tokenising the transcript of experiment ${experiment} changed tokens already fed to the model (at episode ${episode}); ` +
        'the prompt template must end each decision prefix at a token boundary',
    );
  }
  return ids.slice(fed.length);
}

async function decideAll(batch: Game[], sequences: SequenceBatch, tokenizer: LmTokenizer, o: PlayOptions, hooks: PlayHooks): Promise<void> {
  const encodedDecisions = batch.map((g) => encodeDecision(tokenizer, g.episodes, g.pending, o.prompt));
  const appends = batch.map((g, b) => {
    const fresh = freshTokens(g.fed, encodedDecisions[b], g.index, g.episodes.length);
    g.fed = [...g.fed, ...fresh];
    return fresh;
  });
  const blocks = hooks.recorder?.blocks ?? [];
  const marks = encodedDecisions.map(({ rewardToken }) => (rewardToken === null ? [] : [rewardToken]));
  const result = await sequences.append(appends, { taps: [...blocks], interventions: hooks.interventions, marks, signal: hooks.signal });
  batch.forEach((g, b) => {
    const { prompt, position, candidates, rewardToken } = encodedDecisions[b];
    const dist = answerDistribution(result.logits[b], candidates);
    const byModel = prompt.episode >= o.randomEpisodes;
    const forced = hooks.forcedActions?.[g.index][g.decisions.length];
    const action = forced ?? (byModel ? chooseAnswer(dist, o.policy, g.rng) : g.rng.int(0, prompt.allowed.length));
    const rowAt = hooks.recorder ? recordAppended(hooks.recorder, result, b, g, prompt, position) : () => null;
    const row = rowAt(position);
    const rewardRow = rewardToken === null ? null : rowAt(rewardToken);
    g.decisions.push({ episode: prompt.episode, step: prompt.step, logProbs: dist.logProbs, action, byModel, position, row, rewardRow });
    if (g.pending === null) {
      g.pending = { firstAction: action, secondState: g.task.chooseFirst(action).secondState };
    } else {
      g.episodes.push(g.task.chooseSecond(action));
      g.pending = null;
    }
  });
}

/** The position of the (non-special) token holding character `at` of the encoded text. */
function tokenAt(encoded: EncodedText, at: number): number {
  const k = encoded.offsets.findIndex(([start, end], i) => !encoded.special[i] && start <= at && at < end);
  if (k < 0) throw new RangeError(`two-step play: no token holds character ${at} of the prompt`);
  return k;
}

/**
 * Records sequence b's rows of one append: the decision position's only, or,
 * when the recorder keeps every position, all the tokens appended (the decision
 * is the last). Returns the id of a token position's row, null where that
 * position was not recorded.
 */
function recordAppended(
  recorder: ResidualRecorder,
  result: ForwardResult,
  b: number,
  g: Game,
  prompt: { episode: number; step: number },
  position: number,
): (at: number) => number | null {
  const d = result.dModel;
  const count = recorder.positions === 'every' ? result.lengths[b] : 1;
  const from = result.lengths[b] - count;
  const meta = Array.from({ length: count }, (_, i) => {
    const at = position - (count - 1 - i);
    return { experiment: g.index, episode: prompt.episode, step: i === count - 1 ? prompt.step : NOT_AN_ANSWER, position: at, token: g.fed[at] };
  });
  const first = recorder.addRows((block) => result.taps.get(block)![b].subarray(from * d, result.lengths[b] * d), meta);
  const firstAt = position - (count - 1);
  return (at) => (at >= firstAt && at <= position ? first + at - firstAt : null);
}
