import { join } from 'node:path';
import { discoverLatents, latentsFile, runId, writeLatents, type DiscoveredLatent, type RunInfo } from '../analysis/discovered';
import { PAPER_NUMBERS, RESULTS_FORMAT, RESULTS_VERSION, writeResults, type Results, type TaskResult } from '../analysis/results';
import { latentColumn } from '../analysis/scan';
import { targetColumn } from '../analysis/targets';
import type { TaskKind } from '../envs/types';
import type { LanguageModel } from '../lm';
import { latentActivationChart, maxCorrelationChart, nllByConditionChart, returnPerEpisodeChart } from '../plots';
import { mean } from '../stats';
import { writeFigure } from './figures';
import { twoStepStudy, type TwoStepStudy, type TwoStepStudyOptions } from './twoStep';

export const REPRODUCIBLE_TASKS = ['two-step'] as const satisfies readonly TaskKind[];
export type ReproducibleTask = (typeof REPRODUCIBLE_TASKS)[number];

export interface ReproduceOptions {
  tasks: readonly ReproducibleTask[];
  /** Where results.json, latents.json, figures/, saes/ and activations/ go. */
  outDir: string;
  modelName: string;
  twoStep?: Partial<TwoStepStudyOptions>;
}

/**
 * The whole study, end to end, for the chosen tasks: writes results.json (our
 * numbers beside the paper's), latents.json (the discovered latents, ranked), the
 * figures as SVG and Vega-Lite, and the SAEs as SAELens folders.
 */
export async function reproduce(model: LanguageModel, o: ReproduceOptions, log: (line: string) => void, signal?: AbortSignal): Promise<Results> {
  const createdAt = new Date().toISOString();
  const config = { tasks: [...o.tasks], twoStep: o.twoStep ?? {} };
  const seed = o.twoStep?.seed ?? 7001;
  const run: RunInfo = { id: runId(model.info.hash, seed, config), seed, createdAt, config };
  const tasks: Results['tasks'] = {};
  const discovered: DiscoveredLatent[] = [];
  for (const task of o.tasks) {
    const started = Date.now();
    const study = await twoStepStudy({ model, modelName: o.modelName, outDir: o.outDir, log, signal }, o.twoStep);
    tasks[task] = await twoStepResult(study, o.outDir);
    discovered.push(
      ...discoverLatents({
        task,
        model: o.modelName,
        modelHash: model.info.hash,
        run,
        scans: study.blocks.map((b) => ({ block: b.block, scan: b.scan, sae: b.saeFolder })),
      }),
    );
    log(`${task}: done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  const results: Results = { format: RESULTS_FORMAT, version: RESULTS_VERSION, model: o.modelName, modelHash: model.info.hash, seed, config, createdAt, tasks };
  await writeResults(join(o.outDir, 'results.json'), results);
  await writeLatents(o.outDir, latentsFile({ model: o.modelName, modelHash: model.info.hash, seed, config }, discovered));
  return results;
}

async function twoStepResult(s: TwoStepStudy, outDir: string): Promise<TaskResult> {
  const dir = join(outDir, 'figures', 'two-step');
  const conditions = s.conditions.map((c) => c.condition);
  const chance = mean(s.clean.played.map((g) => mean(g.episodes.slice(s.options.randomEpisodes).map((e) => mean(e.rewardProbs.flat())))));
  const figures = [
    await writeFigure(
      dir,
      'return-per-episode',
      returnPerEpisodeChart(
        s.conditions.map((c) => ({ condition: c.condition, perEpisode: c.returnPerEpisode })),
        { title: `Two-step task: return per episode (interventions at block ${s.lesionBlock})`, randomEpisodes: s.options.randomEpisodes, chance },
      ),
      outDir,
    ),
    await writeFigure(
      dir,
      'nll-by-condition',
      nllByConditionChart(
        s.interventions.filter((i) => i.metric === 'nll' && conditions.includes(i.condition)).map((i) => ({ condition: i.condition, nll: i.value, ci95: i.ci95 })),
        { title: 'Two-step task: Q-learning NLL of the model\u2019s choices', subtitle: 'Q-learning refitted to each condition\u2019s choices' },
      ),
      outDir,
    ),
    await writeFigure(dir, 'max-correlation-per-block', maxCorrelationChart(s.curves, { title: 'Two-step task: best latent per block', smoothSigma: 0.5 }), outDir),
  ];
  const lesionStudy = s.blocks.find((b) => b.block === s.lesionBlock)!;
  const best = lesionStudy.scan.best.find((b) => b.target === 'tdError');
  if (best && best.latent >= 0) {
    const activation = latentColumn(lesionStudy.acts, lesionStudy.sae.dSae, best.latent);
    const target = targetColumn(s.targets, 'tdError');
    figures.push(
      await writeFigure(
        dir,
        'td-latent',
        latentActivationChart(Array.from(target, (t, i) => ({ activation: activation[i], target: t })), { latent: best.latent, block: s.lesionBlock, target: 'TD error', r: best.r }),
        outDir,
      ),
    );
  }
  return { bestLatents: s.bestLatents, interventions: s.interventions, paper: { ...PAPER_NUMBERS['two-step'] }, ours: s.ours, figures };
}
