import { ConfigError } from '../config';
import type { TaskKind } from '../envs/types';

/**
 * A point in a transcript where the model answers: the character span of the
 * answer in the text, the answer given there and the answers it could have
 * given. A tokenizer maps the span to the token position that predicts it and
 * `allowed` to the candidate tokens.
 */
export interface AnswerSpan {
  /** Offset of the answer's first character in the transcript text. */
  start: number;
  /** Offset just past the answer: `text.slice(start, end) === answer`. */
  end: number;
  answer: string;
  /** Every answer that was possible here, in a fixed order (for actions, action order). */
  allowed: string[];
  /** Episode index, from 0 (the text numbers episodes from 1). */
  episode: number;
  /** Index of the answer within its episode, from 0. */
  step: number;
  /** 'choice': the model acts (two-step); 'prediction': the model predicts what an agent or walk did. */
  kind: 'choice' | 'prediction';
}

/** A task's episodes as text, with every answer point marked. */
export interface Transcript<Meta = Record<string, unknown>> {
  task: TaskKind;
  text: string;
  spans: AnswerSpan[];
  meta: Meta;
}

/** The text the model reads before answering at `span`: the transcript up to the answer. */
export function promptBefore(transcript: Pick<Transcript<unknown>, 'text'>, span: Pick<AnswerSpan, 'start'>): string {
  return transcript.text.slice(0, span.start);
}

/**
 * Appends text and answers, recording each answer's span as it is written, so a
 * span can never be off by one.
 */
export class TranscriptBuilder {
  private readonly parts: string[] = [];
  private length = 0;
  private readonly spans: AnswerSpan[] = [];

  text(s: string): this {
    this.parts.push(s);
    this.length += s.length;
    return this;
  }

  answer(answer: string, allowed: readonly string[], at: Pick<AnswerSpan, 'episode' | 'step' | 'kind'>): this {
    if (!allowed.includes(answer)) {
      throw new RangeError(`transcript: answer '${answer}' is not one of ${allowed.map((a) => `'${a}'`).join(', ')}`);
    }
    this.spans.push({ start: this.length, end: this.length + answer.length, answer, allowed: [...allowed], ...at });
    return this.text(answer);
  }

  /** The text written so far. */
  get written(): string {
    return this.parts.join('');
  }

  build<Meta>(task: TaskKind, meta: Meta): Transcript<Meta> {
    return { task, text: this.written, spans: [...this.spans], meta };
  }
}

/** A number as a transcript shows it: at most six decimals, no float noise, no "-0". */
export function formatNumber(x: number): string {
  const rounded = Math.round(x * 1e6) / 1e6;
  return String(rounded === 0 ? 0 : rounded);
}

/**
 * Checks answer labels, given as field name -> label: each a non-empty string
 * without white space, all distinct, and none a prefix of another, so the first
 * token of one label cannot also begin another.
 */
export function checkLabels(labels: Record<string, unknown>): void {
  const allowed = 'a non-empty label without white space, distinct from the other labels and not a prefix of one';
  const entries = Object.entries(labels);
  for (const [field, label] of entries) {
    if (typeof label !== 'string' || !/^\S+$/.test(label)) throw new ConfigError(field, label, allowed);
    const clash = entries.find(([other, l]) => other !== field && typeof l === 'string' && l.startsWith(label));
    if (clash) throw new ConfigError(field, label, `${allowed} (${clash[0]} = '${clash[1]}')`);
  }
}
