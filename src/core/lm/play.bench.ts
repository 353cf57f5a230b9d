/**
 * What scoring played experiments costs: `scoreTwoStep` (one pass per
 * transcript) against a replay with the actions forced (`playTwoStep` with
 * `forcedActions`, an append per decision), which give the same distributions.
 * Both are timed clean and under an edit at the first block (a direction held at
 * every token, so the pass runs twice, as a lesion's does). Runs on the default
 * model when it is there, else on a Llama-style stand-in of the same shape.
 */
import { existsSync } from 'node:fs';
import type { BenchReport } from '../../../bench/report';
import { directionDelta } from '../analysis/interventions';
import { Rng } from '../random';
import { twoStepBatch } from '../simulation/twoStep';
import { DEFAULT_PLAY_POLICY } from './answers';
import { playTwoStep, scoreTwoStep } from './play';
import type { Interventions } from './passes';
import { DEFAULT_MODEL, medianAt, openBenchModel, timed, timeInterleaved } from './runtime.bench';

const PLAY = { experiments: 10, episodes: 30, randomEpisodes: 7, seed: 7001, policy: DEFAULT_PLAY_POLICY, batchSize: 10 };
const REPEATS = 3;

export default async function playBench(log: (line: string) => void): Promise<BenchReport> {
  const texts = twoStepBatch({ experiments: 4, episodes: PLAY.episodes, seed: 1 }).map((r) => r.transcript.text);
  const bench = await openBenchModel(existsSync(DEFAULT_MODEL) ? DEFAULT_MODEL : null, texts);
  try {
    const { model } = bench;
    const played = await playTwoStep(model, PLAY);
    const forcedActions = played.map((g) => g.decisions.map((d) => d.action));
    const rng = Rng.fromSeed(3);
    const d = model.info.dModel;
    const direction = { weights: Float64Array.from({ length: d }, () => rng.normal()), center: new Float64Array(d) };
    const cases: [string, Interventions | undefined][] = [
      ['clean', undefined],
      ['a direction held at block 0', { 0: directionDelta(direction, 'all') }],
    ];
    const rows: BenchReport['rows'] = [];
    const summary = [`model: ${bench.description}`];
    for (const [name, interventions] of cases) {
      log(`${name}: ${PLAY.experiments} experiments of ${PLAY.episodes} episodes, ${REPEATS} interleaved rounds`);
      const [replay, score] = await timeInterleaved(
        [timed(() => playTwoStep(model, PLAY, { interventions, forcedActions })), timed(() => scoreTwoStep(model, played, { batchSize: PLAY.batchSize }, { interventions }))],
        REPEATS,
      );
      const [replayS, scoreS] = [medianAt(replay), medianAt(score)];
      rows.push({ measure: 'scoring', edit: name, experiments: PLAY.experiments, 'forced replay s': Number(replayS.toPrecision(3)), 'one pass s': Number(scoreS.toPrecision(3)), 'replay / one pass': Number((replayS / scoreS).toPrecision(3)) });
      summary.push(`scoring ${name}: one pass per transcript takes 1/${(replayS / scoreS).toFixed(2)} of a forced replay (${scoreS.toFixed(2)} s against ${replayS.toFixed(2)} s)`);
    }
    return { name: 'two-step scoring', rows, summary };
  } finally {
    await bench.dispose();
  }
}
