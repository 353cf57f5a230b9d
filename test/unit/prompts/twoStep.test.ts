import { test } from 'node:test';
import assert from 'node:assert/strict';
import { twoStepPrompt, twoStepRewardOffsets, twoStepTranscript } from '../../../src/core/prompts';
import { ConfigError } from '../../../src/core/config';
import { assertSpansExact, twoStepExperiment } from './fixtures';

test('every choice is a span on its label, two per trip', () => {
  const episodes = twoStepExperiment(1, 30);
  const t = twoStepTranscript(episodes);
  assert.equal(t.task, 'two-step');
  assertSpansExact(t);
  assert.equal(t.spans.length, 60);
  t.spans.forEach((s, i) => {
    const ep = episodes[s.episode];
    assert.equal(s.episode, Math.floor(i / 2));
    assert.equal(s.step, i % 2);
    assert.equal(s.kind, 'choice');
    if (s.step === 0) {
      assert.deepEqual(s.allowed, ['A', 'B']);
      assert.equal(s.allowed.indexOf(s.answer), ep.firstAction);
    } else {
      assert.deepEqual(s.allowed, ep.secondState === 0 ? ['C', 'D'] : ['E', 'F']);
      assert.equal(s.allowed.indexOf(s.answer), ep.secondAction);
    }
  });
});

test('the text reads back as the episodes it was written from', () => {
  const episodes = twoStepExperiment(2, 25);
  const { text } = twoStepTranscript(episodes);
  const [instruction, body] = text.split('\n\n');
  assert.match(instruction, /^You are going to visit planets in search of treasure\. .*spaceship, A or B;.*alien C or D on planet X, alien E or F on planet Y\./);
  const lines = body.trimEnd().split('\n');
  assert.equal(lines.length, episodes.length);
  lines.forEach((line, i) => {
    const m = /^Trip (\d+): You took spaceship ([AB]) and arrived on planet ([XY])\. You asked alien ([C-F]) and received (\d) treasures?\.$/.exec(line);
    assert.ok(m, line);
    const ep = episodes[i];
    assert.equal(Number(m[1]), i + 1);
    assert.equal('AB'.indexOf(m[2]), ep.firstAction);
    assert.equal('XY'.indexOf(m[3]), ep.secondState);
    assert.equal('CDEF'.indexOf(m[4]), 2 * ep.secondState + ep.secondAction);
    assert.equal(Number(m[5]), ep.reward);
  });
});

test('the prompt at each decision is the transcript up to that answer', () => {
  const episodes = twoStepExperiment(3, 12);
  const t = twoStepTranscript(episodes);
  for (const s of t.spans) {
    const ep = episodes[s.episode];
    const pending = s.step === 0 ? null : { firstAction: ep.firstAction, secondState: ep.secondState };
    const p = twoStepPrompt(episodes.slice(0, s.episode), pending);
    assert.equal(p.prefix, t.text.slice(0, s.start));
    assert.deepEqual(p.allowed, s.allowed);
    assert.equal(p.episode, s.episode);
    assert.equal(p.step, s.step);
  }
  const next = twoStepPrompt(episodes, null);
  assert.equal(next.prefix, `${t.text}Trip 13: You took spaceship `);
});

test('the reward offsets point at each trip\'s treasure count, and each spaceship choice knows the previous one', () => {
  const episodes = twoStepExperiment(7, 15);
  const t = twoStepTranscript(episodes);
  const offsets = twoStepRewardOffsets(t.spans);
  assert.equal(offsets.length, episodes.length);
  // Read independently of the template code: the count follows the trip's "received ".
  const counts = [...t.text.matchAll(/received (\d+) treasure/g)];
  assert.deepEqual(offsets, counts.map((m) => m.index! + 'received '.length));
  offsets.forEach((at, i) => assert.equal(t.text[at], String(episodes[i].reward)));
  for (const s of t.spans) {
    const ep = episodes[s.episode];
    const pending = s.step === 0 ? null : { firstAction: ep.firstAction, secondState: ep.secondState };
    const p = twoStepPrompt(episodes.slice(0, s.episode), pending);
    assert.equal(p.rewardAt, s.step === 0 && s.episode > 0 ? offsets[s.episode - 1] : null);
  }
});

test('the same seed gives byte-identical transcripts, another seed a different one', () => {
  const a = JSON.stringify(twoStepTranscript(twoStepExperiment(4, 20)));
  assert.equal(JSON.stringify(twoStepTranscript(twoStepExperiment(4, 20))), a);
  assert.notEqual(JSON.stringify(twoStepTranscript(twoStepExperiment(5, 20))), a);
});

test('labels are configurable and checked', () => {
  const labels = { spaceships: ['left', 'right'] as [string, string], aliens: [['Q', 'R'], ['S', 'T']] as [[string, string], [string, string]] };
  const episodes = twoStepExperiment(6, 10);
  const t = twoStepTranscript(episodes, labels);
  assertSpansExact(t);
  assert.deepEqual(t.meta.labels, { ...labels, planets: ['X', 'Y'] });
  assert.ok(t.spans.filter((s) => s.step === 0).every((s) => s.allowed.join() === 'left,right'));
  assert.throws(() => twoStepTranscript(episodes, { planets: ['X', 'C'] }), (e: unknown) => e instanceof ConfigError && e.field === 'twoStepPrompt.planets[1]');
  assert.throws(() => twoStepTranscript(episodes, { spaceships: ['A'] as never }), (e: unknown) => e instanceof ConfigError && e.field === 'twoStepPrompt.spaceships');
  assert.throws(() => twoStepTranscript(episodes, { rockets: ['A', 'B'] } as never), /twoStepPrompt\.rockets .*known option/);
});
