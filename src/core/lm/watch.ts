import { checkInteger } from '../config';
import type { AnswerSpan, Transcript } from '../prompts/transcript';
import { answerDistribution } from './answers';
import type { ForwardResult } from './passes';
import type { RunHooks } from './play';
import { NOT_AN_ANSWER, type ResidualRecorder } from './recorder';
import type { LanguageModel } from './runtime';
import type { AnswerTokens } from './tokenizer';

/** The model's prediction at one answer point of a transcript it watched. */
export interface Prediction {
  episode: number;
  step: number;
  /** log P over the allowed answers (renormalised over their first tokens), in allowed order. */
  logProbs: number[];
  /** The index of the answer that came. */
  answer: number;
  /** The index of the model's most probable answer. */
  predicted: number;
  position: number;
  row: number | null;
}

export interface WatchedTranscript {
  index: number;
  predictions: Prediction[];
  /** Fraction of correct predictions in each episode. */
  accuracyPerEpisode: number[];
  /** Mean log-probability of the answers that came, per episode. */
  logProbPerEpisode: number[];
}

/**
 * The model reads whole transcripts (grid agents' trajectories, graph walks) and
 * predicts every answer from the text before it: one pass per batch of
 * transcripts, logits read at the position before each answer.
 */
export async function watchTranscripts(
  model: LanguageModel,
  transcripts: readonly Transcript<unknown>[],
  options: { batchSize?: number } = {},
  hooks: RunHooks = {},
): Promise<WatchedTranscript[]> {
  const batchSize = checkInteger('watch.batchSize', options.batchSize ?? 8, 1);
  const tokenizer = model.requireTokenizer();
  const blocks = hooks.recorder?.blocks ?? [];
  const out: WatchedTranscript[] = [];
  for (let from = 0; from < transcripts.length; from += batchSize) {
    const batch = transcripts.slice(from, from + batchSize);
    const encoded = batch.map((t) => tokenizer.tokenizeWithOffsets(t.text));
    const answers: AnswerTokens[][] = batch.map((t, b) => t.spans.map((s) => tokenizer.answerTokens(encoded[b], s, s.allowed)));
    const result = await model.forward(
      encoded.map((e) => e.ids),
      { allPositions: true, taps: [...blocks], interventions: hooks.interventions, signal: hooks.signal },
    );
    batch.forEach((t, b) => {
      const index = from + b;
      const { vocab, dModel } = result;
      // With every position recorded, an answer's row is found by its position.
      const recorded = hooks.recorder?.positions === 'every' ? recordEvery(hooks.recorder, result.taps, b, index, encoded[b].ids, t.spans, answers[b]) : null;
      const predictions = t.spans.map((span, k): Prediction => {
        const at = answers[b][k];
        const dist = answerDistribution(result.logits[b].subarray(at.position * vocab, (at.position + 1) * vocab), at.candidates);
        let row: number | null = null;
        if (recorded !== null) row = recorded + at.position;
        else if (hooks.recorder) {
          row = hooks.recorder.add((block) => result.taps.get(block)![b].subarray(at.position * dModel, (at.position + 1) * dModel), {
            experiment: index,
            episode: span.episode,
            step: span.step,
            position: at.position,
            token: encoded[b].ids[at.position],
          });
        }
        return {
          episode: span.episode,
          step: span.step,
          logProbs: dist.logProbs,
          answer: span.allowed.indexOf(span.answer),
          predicted: dist.logProbs.indexOf(Math.max(...dist.logProbs)),
          position: at.position,
          row,
        };
      });
      out.push({ index, predictions, ...perEpisode(predictions) });
    });
    await hooks.recorder?.flush();
    hooks.onProgress?.(Math.min(from + batchSize, transcripts.length), transcripts.length);
  }
  return out;
}

/**
 * Records every position of sequence b; a row's `episode` is that of the next
 * answer (the text leading up to it), its `step` the answer's where it is one.
 * Returns the id of position 0's row (position p's is that plus p).
 */
function recordEvery(
  recorder: ResidualRecorder,
  taps: ForwardResult['taps'],
  b: number,
  experiment: number,
  ids: readonly number[],
  spans: readonly AnswerSpan[],
  answers: readonly AnswerTokens[],
): number {
  const steps = new Map(answers.map((a, k) => [a.position, spans[k].step]));
  let next = 0;
  const meta = ids.map((token, position) => {
    while (next < answers.length - 1 && answers[next].position < position) next++;
    return { experiment, episode: spans[next]?.episode ?? 0, step: steps.get(position) ?? NOT_AN_ANSWER, position, token };
  });
  return recorder.addRows((block) => taps.get(block)![b].subarray(0, ids.length * recorder.dModel), meta);
}

function perEpisode(predictions: readonly Prediction[]): { accuracyPerEpisode: number[]; logProbPerEpisode: number[] } {
  const episodes = predictions.reduce((m, p) => Math.max(m, p.episode + 1), 0);
  const hits = new Array<number>(episodes).fill(0);
  const logp = new Array<number>(episodes).fill(0);
  const counts = new Array<number>(episodes).fill(0);
  for (const p of predictions) {
    counts[p.episode]++;
    if (p.predicted === p.answer) hits[p.episode]++;
    logp[p.episode] += p.logProbs[p.answer];
  }
  return {
    accuracyPerEpisode: hits.map((h, e) => h / counts[e]),
    logProbPerEpisode: logp.map((l, e) => l / counts[e]),
  };
}
