import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OBJECT_WORDS } from '../../../src/core/envs/words';
import { GRAPH_INSTRUCTION, RECALL_STEPS_PER_LINE, recallTranscript } from '../../../src/core/prompts';
import { assertSpansExact } from './fixtures';

const LIST = ['apple', 'chair', 'lamp', 'kettle', 'sofa', 'drum', 'rope', 'lion', 'door', 'shelf', 'truck', 'tiger', 'bowl'];

test('the text reads back as the list said twice, laid out as a walk', () => {
  const t = recallTranscript(LIST, OBJECT_WORDS);
  assert.ok(t.text.startsWith(GRAPH_INSTRUCTION));
  const lines = t.text.slice(GRAPH_INSTRUCTION.length).trimEnd().split('\n').map((l) => l.split(' -> '));
  for (let i = 1; i < lines.length; i++) assert.equal(lines[i][0], lines[i - 1][lines[i - 1].length - 1]);
  assert.ok(lines.every((l) => l.length <= RECALL_STEPS_PER_LINE + 1));
  const chain = [...lines[0], ...lines.slice(1).flatMap((l) => l.slice(1))];
  assert.deepEqual(chain, [...LIST, ...LIST]);
});

test('every name after the first of the text is an answer; the second telling is where the current name came before', () => {
  const t = recallTranscript(LIST, OBJECT_WORDS);
  assertSpansExact(t);
  const chain = [...LIST, ...LIST];
  assert.deepEqual(t.spans.map((s) => s.answer), chain.slice(1));
  t.spans.forEach((s, k) => {
    const i = k + 1;
    // Independently of the builder: has the name before this answer been followed by something earlier in the chain?
    const seenFollowed = chain.slice(0, i - 1).includes(chain[i - 1]);
    assert.equal(s.episode, seenFollowed ? 1 : 0, `answer ${i}`);
    assert.equal(s.kind, 'prediction');
    assert.deepEqual(s.allowed, OBJECT_WORDS);
  });
  assert.equal(t.spans.filter((s) => s.episode === 1).length, LIST.length - 1);
});

test('a list with a repeated name or fewer than two names is refused', () => {
  assert.throws(() => recallTranscript(['apple', 'chair', 'apple'], OBJECT_WORDS), /repeats a name/);
  assert.throws(() => recallTranscript(['apple'], OBJECT_WORDS), /at least two/);
  assert.throws(() => recallTranscript(['apple', 'zebra'], ['apple']), /zebra/);
});
