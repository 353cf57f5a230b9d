import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Tokenizer } from '@huggingface/tokenizers';
import { ModelError } from '../../../src/core/lm/errors';
import { loadModel } from '../../../src/core/lm/runtime';
import { LmTokenizer } from '../../../src/core/lm/tokenizer';
import { tempDir, writeModelFolder } from '../../fixtures/lm/folders';
import { gptModel, maxAbsDiff, rows } from '../../fixtures/lm/models';
import { bpeTokenizer, DIGITS_TOKENIZER, TRANSCRIPT_TOKENIZER } from '../../fixtures/lm/tokenizer';

const transcriptTokenizer = () => new LmTokenizer(new Tokenizer(bpeTokenizer(TRANSCRIPT_TOKENIZER), {}), 'transcript/tokenizer.json');
const digitsTokenizer = () => new LmTokenizer(new Tokenizer(bpeTokenizer(DIGITS_TOKENIZER), {}), 'digits/tokenizer.json');

/** What a token stands for in the text, from its vocabulary spelling (Ġ/▁ for a space, Ċ for a newline). */
const spelled = (token: string) => token.replace(/[Ġ▁]/g, ' ').replace(/Ċ/g, '\n');

describe('token offsets', () => {
  test('byte-level BPE: every token spans the text it spells, BOS spans nothing', () => {
    const tok = transcriptTokenizer();
    const text = 'You see A. You choose B. Reward: 1.\nYou choose A.';
    const enc = tok.tokenizeWithOffsets(text);
    assert.deepEqual(enc.offsets[0], [0, 0]);
    assert.equal(enc.special[0], true);
    enc.ids.slice(1).forEach((id, k) => assert.equal(text.slice(...enc.offsets[k + 1]), spelled(tok.tokenToString(id))));
    assert.ok(enc.ids.some((id) => tok.tokenToString(id) === 'Ġchoose'), 'merges produced multi-character tokens');
  });

  test('a character split over two byte tokens belongs to the first, and the spans still rebuild the text', () => {
    const tok = transcriptTokenizer();
    const text = 'You see é. Reward: 1.';
    const enc = tok.tokenizeWithOffsets(text);
    const at = text.indexOf('é');
    const first = enc.offsets.findIndex(([s, e]) => s === at && e === at + 1);
    assert.equal(tok.tokenToString(enc.ids[first]), 'Ã');
    assert.deepEqual(enc.offsets[first + 1], [at + 1, at + 1]);
    assert.equal(enc.offsets.map(([s, e]) => text.slice(s, e)).join(''), text);
  });

  test('SentencePiece-style: the leading space the tokenizer adds is not part of the text', () => {
    const tok = digitsTokenizer();
    const text = 'pick 1 pick 2';
    const enc = tok.tokenizeWithOffsets(text);
    assert.deepEqual(
      enc.ids.slice(1).map((id, k) => [tok.tokenToString(id), text.slice(...enc.offsets[k + 1])]),
      [['▁pick', 'pick'], ['▁', ' '], ['1', '1'], ['▁pick', ' pick'], ['▁', ' '], ['2', '2']],
    );
  });

  test('a tokenizer that does not give the text back is refused, naming its file', () => {
    const json = bpeTokenizer(TRANSCRIPT_TOKENIZER) as Record<string, unknown>;
    const lower = new LmTokenizer(new Tokenizer({ ...json, normalizer: { type: 'Lowercase' } }, {}), 'lower/tokenizer.json');
    assert.throws(() => lower.tokenizeWithOffsets('See'), (err: unknown) => err instanceof ModelError && err.file === 'lower/tokenizer.json' && /does not give back the text/.test(err.message));
  });
});

describe('answer tokens', () => {
  test('maps an answer span to the position before it and the first token of each allowed answer', () => {
    const tok = transcriptTokenizer();
    const text = 'You see A. You choose B. Reward: 1.';
    const enc = tok.tokenizeWithOffsets(text);
    const start = text.indexOf('B.');
    const answer = tok.answerTokens(enc, { start, end: start + 1 }, ['A', 'B']);
    assert.deepEqual(answer.candidates, [tok.encode(' A', false)[0], tok.encode(' B', false)[0]]);
    assert.equal(tok.tokenToString(answer.candidates[0]), 'ĠA');
    assert.equal(answer.answer, 1);
    assert.equal(enc.ids[answer.position + 1], answer.candidates[1], 'the next token is the answer itself');
    assert.equal(tok.tokenToString(enc.ids[answer.position]), 'Ġchoose');
    assert.equal(tok.answerTokens(enc, { start: text.indexOf('1.'), end: text.indexOf('1.') + 1 }, ['A', 'B']).answer, null);
  });

  test('answers whose first tokens collide are an error naming the tokenizer and the fix', () => {
    const tok = digitsTokenizer();
    const text = 'pick 12';
    const enc = tok.tokenizeWithOffsets(text);
    assert.throws(
      () => tok.answerTokens(enc, { start: 5, end: 7 }, ['12', '13']),
      (err: unknown) => err instanceof ModelError && err.file === 'digits/tokenizer.json' && /'12' and '13' both start with token/.test(err.message) && /first tokens differ/.test(err.fix),
    );
    assert.deepEqual(tok.answerTokens(enc, { start: 5, end: 7 }, ['12', '3']).candidates.map((id) => tok.tokenToString(id)), ['1', '3']);
  });

  test('where a few tokens of context do not tokenise alone as they do in place, the whole prefix is used', () => {
    const tok = digitsTokenizer();
    // the context window starts at 'pick' inside 'pickpick', which alone would get a leading ▁
    const text = 'pickpick pick pick 12';
    const enc = tok.tokenizeWithOffsets(text);
    assert.deepEqual(enc.ids.slice(1, 3).map((id) => tok.tokenToString(id)), ['▁pick', 'pick']);
    const answer = tok.answerTokens(enc, { start: 19, end: 21 }, ['12', '3']);
    assert.deepEqual(answer.candidates.map((id) => tok.tokenToString(id)), ['1', '3']);
    assert.equal(answer.position, enc.ids.length - 3);
  });

  test('with a model: the logits at the answer position score the candidates as the reference does', async () => {
    const dir = tempDir();
    after(() => dir.remove());
    const m = gptModel();
    writeModelFolder(dir.path, m.bytes, { tokenizer: bpeTokenizer(TRANSCRIPT_TOKENIZER) });
    const model = await loadModel(dir.path, { cacheDir: join(dir.path, '.cache'), provider: 'cpu' });
    const tok = model.requireTokenizer();
    const text = 'You see A. Reward: 0.\nYou choose B. Reward: 1.\nYou choose A.';
    const enc = tok.tokenizeWithOffsets(text);
    const start = text.lastIndexOf('A.');
    const { position, candidates } = tok.answerTokens(enc, { start, end: start + 1 }, ['A', 'B']);
    const result = await model.forward([enc.ids.slice(0, position + 1)]);
    const ref = rows(m.reference(enc.ids).logits, m.config.vocab, position, 1);
    assert.ok(maxAbsDiff(candidates.map((id) => result.logits[0][id]), candidates.map((id) => ref[id])) < 1e-4);
    await model.dispose();
  });
});
