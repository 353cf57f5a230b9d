import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkLabels, formatNumber, promptBefore, TranscriptBuilder } from '../../../src/core/prompts';
import { ConfigError } from '../../../src/core/config';

test('the builder records each answer at the offset where it is written', () => {
  const t = new TranscriptBuilder()
    .text('Pick one: ')
    .answer('left', ['left', 'right'], { episode: 0, step: 0, kind: 'prediction' })
    .text('. Then: ')
    .answer('B', ['A', 'B'], { episode: 1, step: 3, kind: 'choice' })
    .text('.\n')
    .build('grid', {});
  assert.equal(t.text, 'Pick one: left. Then: B.\n');
  assert.deepEqual(t.spans, [
    { start: 10, end: 14, answer: 'left', allowed: ['left', 'right'], episode: 0, step: 0, kind: 'prediction' },
    { start: 22, end: 23, answer: 'B', allowed: ['A', 'B'], episode: 1, step: 3, kind: 'choice' },
  ]);
  assert.equal(promptBefore(t, t.spans[1]), 'Pick one: left. Then: ');
  assert.throws(() => new TranscriptBuilder().answer('C', ['A', 'B'], { episode: 0, step: 0, kind: 'choice' }), /'C' is not one of 'A', 'B'/);
});

test('numbers are written without float noise or negative zero', () => {
  assert.equal(formatNumber(1), '1');
  assert.equal(formatNumber(0), '0');
  assert.equal(formatNumber(-0), '0');
  assert.equal(formatNumber(1 - 0.05), '0.95');
  assert.equal(formatNumber(0.1 + 0.2), '0.3');
  assert.equal(formatNumber(-0.25), '-0.25');
});

test('labels must be distinct words none of which begins another', () => {
  checkLabels({ a: 'A', b: 'B', c: 'up' });
  assert.throws(() => checkLabels({ a: 'A', b: 'A' }), (e: unknown) => e instanceof ConfigError && e.field === 'a' && /\(b = 'A'\)/.test(e.allowed));
  assert.throws(() => checkLabels({ a: 'up', b: 'upper' }), (e: unknown) => e instanceof ConfigError && e.field === 'a');
  assert.throws(() => checkLabels({ a: 'two words' }), (e: unknown) => e instanceof ConfigError && /without white space/.test(e.allowed));
  assert.throws(() => checkLabels({ a: '' }), ConfigError);
});
