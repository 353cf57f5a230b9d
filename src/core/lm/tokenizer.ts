import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';
import { ModelError } from './errors';

/**
 * A Hugging Face tokenizer (tokenizer.json, read by @huggingface/tokenizers) with
 * what the experiments need on top: the character span of every token, and the
 * mapping from an answer's character span in a transcript to the position whose
 * logits predict it and the first token of every allowed answer.
 */

export interface EncodedText {
  text: string;
  ids: number[];
  /** [start, end) character offsets into `text`; special tokens are empty spans */
  offsets: [number, number][];
  special: boolean[];
}

export interface Span {
  start: number;
  end: number;
}

export interface AnswerTokens {
  /** the token position whose next-token logits choose the answer (the one before its first token) */
  position: number;
  /** the first token id of each allowed answer, in the order given */
  candidates: number[];
  /** which allowed answer the text holds at the span, or null if it holds none of them */
  answer: number | null;
}

/** How many tokens before a piece are decoded with it, so decoders that strip a leading space see context. */
const DECODE_CONTEXT = 8;
/** How many tokens of context are re-tokenised with each allowed answer before falling back to the whole prefix. */
const ANSWER_CONTEXT = 4;

export class LmTokenizer {
  private readonly specialIds: Set<number>;
  /** first answer tokens found from local context, by context ids and text; null where local context was not enough */
  private readonly candidateCache = new Map<string, number | null>();

  constructor(
    private readonly tokenizer: Tokenizer,
    /** the tokenizer.json it was read from, named in errors */
    readonly file: string,
    /** the vocabulary's unknown token, which words missing from a word-level vocabulary become */
    private readonly unknownId?: number,
  ) {
    this.specialIds = new Set([...tokenizer.get_added_tokens_decoder()].filter(([, t]) => t.special).map(([id]) => id));
  }

  static fromFile(tokenizerFile: string, configFile?: string | null): LmTokenizer {
    const read = (file: string) => {
      try {
        return JSON.parse(readFileSync(file, 'utf8')) as object;
      } catch (err) {
        throw new ModelError(file, `not a readable JSON file (${err instanceof Error ? err.message : String(err)})`, 'save the tokenizer again with tokenizer.save_pretrained(folder)');
      }
    };
    const json = read(tokenizerFile);
    try {
      const tokenizer = new Tokenizer(json, configFile ? read(configFile) : {});
      const unk = (json as { model?: { unk_token?: unknown } }).model?.unk_token;
      return new LmTokenizer(tokenizer, tokenizerFile, typeof unk === 'string' ? tokenizer.token_to_id(unk) ?? undefined : undefined);
    } catch (err) {
      throw new ModelError(
        tokenizerFile,
        `not a tokenizer the Hugging Face tokenizers library can read (${err instanceof Error ? err.message : String(err)})`,
        'save a fast tokenizer with tokenizer.save_pretrained(folder), which writes tokenizer.json',
      );
    }
  }

  /** The largest token id the tokenizer can produce, added tokens included. */
  get maxTokenId(): number {
    return Math.max(...this.tokenizer.get_vocab(true).values());
  }

  /** Token ids of `text`, with the special tokens (BOS) the tokenizer adds. */
  encode(text: string, addSpecialTokens = true): number[] {
    const { ids, tokens } = this.tokenizer.encode(text, { add_special_tokens: addSpecialTokens });
    // The library leaves a word-level vocabulary's unknown words without an id; they become its unknown token.
    const missing = ids.findIndex((id) => id === undefined);
    if (missing < 0) return ids;
    const unk = this.unknownId;
    if (unk === undefined) {
      throw new ModelError(this.file, `the tokenizer has no token for '${tokens[missing]}' and no unknown token`, 'use a tokenizer whose vocabulary covers the transcripts, or one with an unk_token');
    }
    return ids.map((id) => id ?? unk);
  }


  decode(ids: number[]): string {
    return ids.length === 0 ? '' : this.tokenizer.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false });
  }

  tokenToString(id: number): string {
    return this.tokenizer.id_to_token(id) ?? `<${id}>`;
  }

  /**
   * Tokenises `text` and gives each token its character span. The library gives
   * no offsets, so they are recovered by decoding: a token's length is how much
   * the decoded text grows when it is appended to the tokens before it (a few of
   * them, so decoders that strip a leading space see the same context either
   * way). A character split over several byte tokens belongs to the token where
   * it starts. The spans are checked to rebuild the text exactly.
   */
  tokenizeWithOffsets(text: string): EncodedText {
    const ids = this.encode(text);
    const special = ids.map((id) => this.specialIds.has(id));
    if (this.decode(ids) !== text) {
      throw new ModelError(
        this.file,
        'decoding the tokens does not give back the text (the tokenizer normalises it, e.g. lowercases or strips accents), so character spans cannot be mapped to tokens',
        'use a tokenizer that round-trips text (byte-level BPE or SentencePiece), or keep transcripts to characters it leaves unchanged',
      );
    }
    const offsets: [number, number][] = [];
    const context: number[] = [];
    let at = 0;
    ids.forEach((id, i) => {
      if (special[i]) {
        offsets.push([at, at]);
        return;
      }
      const window = context.slice(Math.max(0, context.length - DECODE_CONTEXT));
      const end = at + this.decode([...window, id]).length - this.decode(window).length;
      offsets.push([at, end]);
      context.push(id);
      at = end;
    });
    const rebuilt = offsets.map(([s, e], i) => (special[i] ? '' : text.slice(s, e))).join('');
    if (at !== text.length || rebuilt !== text || offsets.some(([s, e]) => e < s)) {
      throw new ModelError(
        this.file,
        'the tokens decode to the text as a whole, but their boundaries cannot be recovered one token at a time',
        'use a tokenizer whose decoder maps each token to a piece of the text (byte-level BPE, SentencePiece or WordPiece)',
      );
    }
    return { text, ids, offsets, special };
  }

  /**
   * For the answer at `span` of an encoded transcript: the position whose logits
   * choose it, and the first token each allowed answer would have there. The
   * candidates are found by tokenising the text before the answer followed by each
   * allowed answer, so a tokenizer that merges the preceding space into the answer
   * (" A") is handled as it tokenises. Two answers that start with the same token
   * cannot be told apart by next-token logits, and are an error.
   */
  answerTokens(encoded: EncodedText, span: Span, allowed: readonly string[]): AnswerTokens {
    const { text, offsets, special } = encoded;
    if (!(span.start >= 0 && span.end <= text.length && span.start < span.end)) {
      throw new RangeError(`answer span [${span.start}, ${span.end}) is not a non-empty range inside the ${text.length}-character text`);
    }
    const first = offsets.findIndex(([, end], i) => !special[i] && end > span.start);
    if (first <= 0) {
      throw new RangeError(`the answer at character ${span.start} has no token before it whose logits could predict it; start the prompt with some text or a BOS token`);
    }
    const candidates = allowed.map((answer) => this.firstAnswerToken(encoded, first, span.start, answer));
    for (let a = 0; a < candidates.length; a++) {
      for (let b = a + 1; b < candidates.length; b++) {
        if (candidates[a] === candidates[b]) {
          throw new ModelError(
            this.file,
            `allowed answers '${allowed[a]}' and '${allowed[b]}' both start with token ${candidates[a]} ('${this.tokenToString(candidates[a])}') after '${text.slice(Math.max(0, span.start - 20), span.start)}', so next-token logits cannot tell them apart`,
            'choose answer labels whose first tokens differ under this tokenizer (e.g. distinct single letters or words), or change the prompt so the text before the answer does not merge with it',
          );
        }
      }
    }
    const answer = allowed.indexOf(text.slice(span.start, span.end));
    return { position: first - 1, candidates, answer: answer < 0 ? null : answer };
  }

  /** The token at index `first` when `answer` follows text[0, start); checked to leave the earlier tokens unchanged. */
  private firstAnswerToken(encoded: EncodedText, first: number, start: number, answer: string): number {
    const { text, ids, offsets } = encoded;
    // Re-tokenising a few tokens of context is enough for tokenizers whose pieces do not cross words; verified, else the whole prefix.
    const from = Math.max(0, first - ANSWER_CONTEXT);
    const contextIds = ids.slice(from, first).filter((_, k) => !encoded.special[from + k]);
    const local = text.slice(offsets[from][0], start) + answer;
    const key = `${contextIds.join(',')}|${local}`;
    let cached = this.candidateCache.get(key);
    if (cached === undefined) {
      const localIds = this.encode(local, false);
      cached = contextIds.every((id, k) => localIds[k] === id) && localIds.length > contextIds.length ? localIds[contextIds.length] : null;
      if (this.candidateCache.size > 10_000) this.candidateCache.clear();
      this.candidateCache.set(key, cached);
    }
    if (cached !== null) return cached;
    const full = this.encode(text.slice(0, start) + answer);
    if (full.length <= first || ids.slice(0, first).some((id, k) => full[k] !== id)) {
      throw new ModelError(
        this.file,
        `the allowed answer '${answer}' changes how the text before it is tokenised (at character ${start}), so no single position predicts it`,
        'separate the answer from the preceding text (e.g. with a space or a colon) in the prompt',
      );
    }
    return full[first];
  }
}
