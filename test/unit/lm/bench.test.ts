import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Transcript } from '../../../src/core/prompts/transcript';
import { gamePlan, median, medianAt, openBenchModel, playGame, tapVariants, timed, timeInterleaved, type BenchModel, type TapVariant } from '../../../src/core/lm/runtime.bench';
import { twoStepBatch } from '../../../src/core/simulation/twoStep';
import { maxAbsDiff } from '../../fixtures/lm/models';
import type { TinyConfig } from '../../fixtures/lm/weights';

const TOY: TinyConfig = { vocab: 128, dModel: 16, layers: 2, heads: 2, kvHeads: 1, dFF: 32, maxPositions: 256, eps: 1e-5 };

describe('interleaved timing', () => {
  test('warms each variant up, then runs every variant once a round, in orders that vary, keeping every checkpoint', async () => {
    const calls: number[] = [];
    const variant = (v: number) => async () => {
      calls.push(v);
      return [v, calls.length];
    };
    const runs = await timeInterleaved([variant(0), variant(1), variant(2)], 6);
    assert.deepEqual(calls.slice(0, 3), [0, 1, 2]);
    const rounds = Array.from({ length: 6 }, (_, r) => calls.slice(3 + 3 * r, 6 + 3 * r));
    for (const round of rounds) assert.deepEqual([...round].sort(), [0, 1, 2]);
    assert.ok(new Set(rounds.map((round) => round.join())).size > 1, 'the order changes between rounds');
    // each run of variant v returned [v, its call number]
    runs.forEach((marks, v) => assert.deepEqual(marks, rounds.map((round, r) => [v, 4 + 3 * r + round.indexOf(v)])));
  });

  test('timed gives the wall-clock and the CPU seconds of a run', async () => {
    // CPU seconds are the whole process's (garbage collection and the threads
    // of earlier tests count too), so they are bounded by what the process used
    // around the call, not by the busy loop's own wall-clock time
    const outer0 = process.cpuUsage();
    const [wall, cpu] = await timed(async () => {
      const end = performance.now() + 300;
      while (performance.now() < end);
    })();
    const outer = process.cpuUsage(outer0);
    assert.ok(wall >= 0.3 && wall < 2, `wall ${wall}`);
    assert.ok(cpu <= (outer.user + outer.system) / 1e6 + 1e-6, `cpu ${cpu} is within the process's use around the call`);
    // a thread that never waits is on a core for most of its wall-clock time
    assert.ok(cpu >= 0.25 * wall, `cpu ${cpu}, wall ${wall}`);
    const [sleptWall, sleptCpu] = await timed(() => new Promise((resolve) => setTimeout(resolve, 100)))();
    assert.ok(sleptWall >= 0.095, `wall ${sleptWall}`);
    // Three times the sleep's length: on a loaded machine the loop may hold a core only
    // part of the time, and other threads' work during the sleep counts too.
    assert.ok(sleptCpu < cpu, `a sleep uses less CPU (${sleptCpu}) than a busy loop three times as long (${cpu})`);
  });

  test('the median of a checkpoint over rounds', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(medianAt([[1, 9], [2, 7], [3, 8]], 1), 8);
  });
});

describe('the measured work, on a toy model', () => {
  let bench: BenchModel;
  let transcripts: Transcript<unknown>[];

  before(async () => {
    transcripts = twoStepBatch({ experiments: 2, episodes: 3, seed: 5 }).map((r) => r.transcript);
    bench = await openBenchModel(
      null,
      transcripts.map((t) => t.text),
      TOY,
    );
  });
  after(() => bench.dispose());

  test('every tap variant gives the logits of the graph as exported, and only the tapped ones read the taps', async () => {
    const tokenizer = bench.model.requireTokenizer();
    const sequences = [...transcripts, ...transcripts].map((t, i) => tokenizer.encode(t.text).slice(i, i + 12));
    const { variants, close } = await tapVariants(bench, sequences);
    const results: Awaited<ReturnType<TapVariant['run']>>[] = [];
    for (const v of variants) results.push(await v.run());
    await close();
    assert.deepEqual(
      results.map((r) => r.taps),
      [0, 0, TOY.layers, TOY.layers],
    );
    for (const r of results) {
      assert.equal(r.logits.length, sequences.length);
      r.logits.forEach((l, b) => assert.ok(maxAbsDiff(l, results[0].logits[b]) < 1e-5, `sequence ${b}`));
    }
  });

  test('the game plan reads each choice at the token before its answer, two choices per episode', () => {
    const plan = gamePlan(bench.model, transcripts);
    const tokenizer = bench.model.requireTokenizer();
    assert.equal(plan.decisions.length, 6);
    assert.deepEqual(plan.episodeEnds, [1, 3, 5]);
    plan.decisions.forEach((positions, k) =>
      positions.forEach((p, b) => {
        assert.equal(tokenizer.decode([plan.ids[b][p + 1]]).trim(), transcripts[b].spans[k].answer);
        if (k > 0) assert.ok(p > plan.decisions[k - 1][b]);
      }),
    );
  });

  test('playing with the KV cache and by recomputation gives the same logits at every choice', async () => {
    const plan = gamePlan(bench.model, transcripts);
    const seen: Record<string, Float32Array[][]> = { 'kv cache': [], recompute: [] };
    for (const mode of ['kv cache', 'recompute'] as const) {
      const marks = await playGame(bench.model, plan, mode, 2, (_, logits) => seen[mode].push(logits));
      assert.equal(marks.length, 2);
      assert.ok(marks[0] > 0 && marks[1] >= marks[0]);
    }
    assert.equal(seen['kv cache'].length, 4);
    seen['kv cache'].forEach((logits, k) => logits.forEach((l, b) => assert.ok(maxAbsDiff(l, seen.recompute[k][b]) < 1e-4, `choice ${k}, game ${b}`)));
  });
});
