import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { compareModels } from '../agents/compare';
import { COPY_BEST } from '../agents/copyBest';
import { fitModel } from '../agents/fit';
import { MYOPIC_Q_LEARNING, Q_LEARNING } from '../agents/qLearning';
import { REPETITION } from '../agents/repetition';
import { directionDelta, matchedControl, saeDelta, type DirectionSds, type Edit } from '../analysis/interventions';
import { sparseProbe, SPARSE_PROBE_DEFAULTS } from '../analysis/sparseProbe';
import { ridgeDirection, ridgeProbe, type ProbeDirection } from '../analysis/probe';
import { maxRFigure, type BestLatentResult, type Figure, type InterventionResult, type ProbeReading } from '../analysis/results';
import { scanLatents, type LatentScan } from '../analysis/scan';
import { DETRENDED, FIRST_STAGE, firstStageTargets, gatherRows, REWARD_TOKEN, rewardTokenTargets, targetColumn, twoStepTargets, type TargetTable } from '../analysis/targets';
import { expectedReward, TWO_STEP_SPEC } from '../envs/twoStep';
import { DEFAULT_PLAY_POLICY, playTwoStep, policyName, scoreTwoStep, ResidualRecorder, type AnswerPolicy, type DeltaFn, type PlayOptions, type LanguageModel, type PlayedExperiment, type RecordedPositions } from '../lm';
import { Rng } from '../random';
import { ActivationStore, SaeSession, type SplicePositions, type TrainOptions } from '../sae';
import { columnMeans, estimate, mean, pairedDifference, rowCovariance, type Estimate } from '../stats';
import { asResult, bestLatentResults, describeLesionSets, latentsByCorrelation, lesionSets, probeColumns, probeReadings, studyBlocks, type BlockStudy } from './blocks';

export interface TwoStepStudyOptions {
  experiments: number;
  episodes: number;
  randomEpisodes: number;
  /** How the model picks its labels (default: sampled at temperature 1; every condition draws the same random numbers). */
  policy: AnswerPolicy;
  seed: number;
  sae: Partial<TrainOptions>;
  permutations: number;
  /**
   * How many of the best TD-error latents are lesioned (and how many least-correlated
   * ones in the control); as many first-stage Q-difference latents in the value lesion,
   * and as many reward-token TD-error latents in the reward-token lesion.
   */
  lesionLatents: number;
  /** The factor of the negative-scaling condition (the paper used -10). */
  scaleFactor: number;
}

export const TWO_STEP_STUDY_DEFAULTS: TwoStepStudyOptions = {
  experiments: 100,
  episodes: 30,
  randomEpisodes: 7,
  policy: DEFAULT_PLAY_POLICY,
  seed: 7001,
  sae: { architecture: 'standard', expansionFactor: 8, epochs: 30, batchSize: 256 },
  permutations: 200,
  lesionLatents: 8,
  scaleFactor: -10,
};

/** One condition of the intervention experiment, replayed on the same tasks and seeds as the clean run. */
export interface ConditionOutcome {
  condition: string;
  played: PlayedExperiment[];
  /**
   * Expected reward per episode after the random opening, per experiment: the
   * chance of treasure of the option chosen, which has the mean of the reward
   * received without its coin flips (conditions are compared on it).
   */
  returns: number[];
  /** The same, episode by episode, over experiments. */
  returnPerEpisode: Estimate[];
  /** Q-learning refitted to this condition's choices: total NLL, and each experiment's share. */
  nll: number;
  nllPerExperiment: number[];
  /**
   * Per experiment, how much less likely the edited model makes the clean run's
   * own choices, in nats: the clean transcripts read under the edit (`scoreTwoStep`),
   * and the sum over the model's choices of log p_clean(a) - log p_edited(a). Zero
   * for the clean run. Unlike the NLL it compares the two models on the same
   * transcripts, so a small change in the policy shows even where no sampled
   * choice flips.
   */
  choiceCost: number[];
}

export interface TwoStepStudy {
  options: TwoStepStudyOptions;
  clean: ConditionOutcome;
  /** NLL of the model's own choices under each fitted strategy, best first. */
  models: { model: string; nll: number; bic: number; params: Record<string, number> }[];
  blocks: BlockStudy[];
  targets: TargetTable;
  /** Each block's scans at the first-stage choices alone, against {@link firstStage}. */
  stageScans: StageScan[];
  firstStage: TargetTable;
  /** Each block's scans at the tokens showing each trip's reward, against {@link rewardTokens}. */
  rewardScans: StageScan[];
  rewardTokens: TargetTable;
  /** The block whose best latent tracks the TD error most closely, and the latents lesioned there. */
  lesionBlock: number;
  lesioned: { latent: number; r: number }[];
  control: { latent: number; r: number }[];
  /** The block whose best latent tracks the first-stage Q difference most closely, and the value lesion's latents there. */
  valueBlock: number;
  valueLesioned: { latent: number; r: number }[];
  valueControl: { latent: number; r: number }[];
  /** The block whose best latent at the reward tokens tracks the TD error most closely, and the reward-token lesion's latents there. */
  rewardBlock: number;
  rewardLesioned: { latent: number; r: number }[];
  rewardControl: { latent: number; r: number }[];
  /** The block whose best latent tracks the TD error less its mean at each point of the task most closely, and the detrended lesion's latents there. */
  detrendedBlock: number;
  detrendedLesioned: { latent: number; r: number }[];
  detrendedControl: { latent: number; r: number }[];
  /** The probe lesion: the direction of the block whose linear probe reads the first-stage TD error less its mean per trip best, and its control direction. */
  probeLesion: ProbeLesion;
  /** Per block, how many latents it takes to read each of {@link SPARSE_TARGETS} at the first-stage choices (k-sparse probes). */
  sparseProbes: SparseProbes[];
  conditions: ConditionOutcome[];
  /** Per block: the max |r| of a latent with each target family, clean and after the lesion. */
  curves: { condition: string; target: string; block: number; r: number }[];
  bestLatents: BestLatentResult[];
  /** Linear probes of each block's residual stream at the decisions, the first-stage choices and the reward tokens. */
  probes: ProbeReading[];
  /** The same probes of the SAE's reconstruction of the residual stream. */
  reconstructionProbes: ProbeReading[];
  interventions: InterventionResult[];
  ours: Record<string, Figure>;
}

export interface StudyContext {
  model: LanguageModel;
  modelName: string;
  outDir: string;
  log: (line: string) => void;
  signal?: AbortSignal;
}

/**
 * A block's scans at some of the recorded positions (the first-stage choices
 * alone, or the reward tokens): its SAE's latents (with the permutation null)
 * and the raw residual dimensions.
 */
export interface StageScan {
  block: number;
  /** SAE latent activations at those rows, [rows, d_sae]. */
  acts: Float32Array;
  scan: LatentScan;
  residualScan: LatentScan;
  /** A linear probe of the residual stream at those rows, per target probed. */
  probes: { target: string; r: number }[];
  /** The same probes fitted to the SAE's reconstruction of those rows. */
  reconstructionProbes: { target: string; r: number }[];
}

/** The targets a linear probe of each block is fitted to: at the decisions, at the first-stage choices alone and at the reward tokens. */
const PROBED = {
  pooled: ['tdError', `tdError${DETRENDED}`, 'qChosen', `qChosen${DETRENDED}`],
  firstStage: ['tdError', 'qDiff', `tdError${DETRENDED}`, `qDiff${DETRENDED}`].map((t) => `${FIRST_STAGE}${t}`),
  rewardTokens: ['tdError', 'reward', 'tdOff', `tdError${DETRENDED}`].map((t) => `${REWARD_TOKEN}${t}`),
};

/** A block's k-sparse probes at the first-stage choices: per target, the out-of-fold r with k latents, and the latents chosen on all rows. */
export interface SparseProbes {
  block: number;
  probes: { target: string; points: { k: number; r: number }[]; chosen: number[] }[];
}

/** The targets whose k-sparse probes the study reports: a TD error spread over many latents beside a Q difference one latent holds. */
export const SPARSE_TARGETS = ['tdError', `tdError${DETRENDED}`, 'qDiff'].map((t) => `${FIRST_STAGE}${t}`);

/**
 * The probe lesion's directions: the linear probe of {@link PROBE_LESION_TARGET}
 * at its best block, and a random direction along which the first-stage rows vary
 * exactly as much, so that holding either moves the residual stream as far. (A
 * probe's direction is a quiet one, with a small penalty nearly the least-varying
 * mix of features that reads the target; a plain random direction varies several
 * times as much.)
 */
export interface ProbeLesion {
  block: number;
  target: string;
  /** The probe's out-of-fold r, and its penalty (the median of those its folds chose). */
  r: number;
  lambda: number;
  probe: ProbeDirection;
  /**
   * The probe held at the decisions, centred on the first-stage rows' mean, and its
   * control; `sd`: the sd of those rows' projection on each unit direction, and its
   * root mean square over all unit directions (a random direction's).
   */
  atDecisions: HeldPair;
  /**
   * The same probe held at every token: centred on the mean of all the tokens the
   * model read, against a control along which all those tokens vary as much.
   */
  everywhere: HeldPair;
}

/** A probe's direction and its control, held alike, and how much the rows vary along each. */
interface HeldPair {
  probe: HeldDirection;
  control: HeldDirection;
  sd: DirectionSds;
}

/** The target of the probe lesion: on the default model no single latent tracks it, but a linear probe reads it. */
const PROBE_LESION_TARGET = `${FIRST_STAGE}tdError${DETRENDED}`;

/** The curves' label of the linear probes, beside the conditions' best latents. */
export const PROBE_CONDITION = 'linear probe';

const TARGETS_PLOTTED: Record<string, string> = {
  tdError: 'TD error',
  qChosen: 'Q-value',
  [`${FIRST_STAGE}tdError`]: 'TD error, first stage',
  [`${FIRST_STAGE}qDiff`]: 'Q difference, first stage',
  [`${REWARD_TOKEN}tdError`]: 'TD error, reward token',
  [`${REWARD_TOKEN}tdOff`]: 'TD beyond reward, reward token',
  [`tdError${DETRENDED}`]: 'TD error less its mean at each trip',
};

/**
 * The paper's two-step study on a model: it plays, Q-learning and its rivals are
 * fitted to its choices, an SAE per block is trained on its residual stream (every
 * token it read), every latent is correlated with the fitted TD errors and
 * Q-values at the decision points (against a permutation null and two baselines),
 * at the first-stage choices alone, and at the tokens where it reads each reward,
 * and the best TD-error latents are lesioned to see whether behaviour and later
 * blocks' correlations change, beside a value lesion and a reward-token lesion.
 */
export async function twoStepStudy(ctx: StudyContext, options: Partial<TwoStepStudyOptions> = {}): Promise<TwoStepStudy> {
  const o = { ...TWO_STEP_STUDY_DEFAULTS, ...options, sae: { ...TWO_STEP_STUDY_DEFAULTS.sae, ...options.sae } };
  const { model, log } = ctx;
  const blocks = model.info.blocks.map((_, i) => i);
  const play = { experiments: o.experiments, episodes: o.episodes, randomEpisodes: o.randomEpisodes, seed: o.seed, policy: o.policy };

  log(`two-step: the model plays ${o.experiments} experiments of ${o.episodes} episodes (first ${o.randomEpisodes} random, then ${policyName(o.policy)}), recording ${blocks.length} blocks`);
  const cleanStore = join(ctx.outDir, 'activations', 'two-step-clean');
  const cleanPlayed = await playRecorded(ctx, cleanStore, blocks, play, undefined, 'every');
  const clean = outcome('none', cleanPlayed, o.randomEpisodes, cleanPlayed.map(() => 0));

  log('two-step: fitting Q-learning, myopic Q-learning, repetition and copy-the-best-episode to the model\u2019s choices');
  const data = { spec: TWO_STEP_SPEC, experiments: cleanPlayed };
  const comparison = compareModels(data, [Q_LEARNING, MYOPIC_Q_LEARNING, REPETITION, COPY_BEST], { criterion: 'nll', restarts: 3, seed: o.seed });
  const qFit = fitModel(Q_LEARNING, data, { restarts: 3, seed: o.seed });
  const rows = cleanPlayed.map((g) => g.decisions.map((d) => d.row));
  const targets = twoStepTargets(qFit.latents, { rows });
  const firstStage = firstStageTargets(qFit.latents, { rows });
  const rewardTokens = rewardTokenTargets(qFit.latents, { rows: cleanPlayed.map((g) => g.decisions.map((d) => d.rewardRow)) });

  const studies = await studyBlocks(cleanStore, targets, {
    sae: o.sae,
    permutations: o.permutations,
    seed: o.seed,
    probeTargets: PROBED.pooled,
    outDir: ctx.outDir,
    saeDir: join('saes', 'two-step'),
    modelName: ctx.modelName,
    splice: { model, sequences: spliceSequences(model, cleanPlayed.map((g) => g.transcript.text)) },
    log,
    signal: ctx.signal,
  });

  const { stageScans, rewardScans } = await rowScans(cleanStore, studies, { pooled: targets, firstStage, rewardTokens }, o, ctx.signal);
  for (const s of stageScans) {
    const best = (target: string) => s.scan.best.find((b) => b.target === `${FIRST_STAGE}${target}`);
    const [td, q, tdD, qD] = [best('tdError'), best('qDiff'), best(`tdError${DETRENDED}`), best(`qDiff${DETRENDED}`)];
    log(
      `  block ${s.block}, first-stage choices: best TD-error latent ${td?.latent}, r ${td?.r.toFixed(3)}; best Q-difference latent ${q?.latent}, r ${q?.r.toFixed(3)}, p ${q?.p?.toPrecision(2)}; ` +
        `less their means at each trip: TD ${tdD?.latent}, r ${tdD?.r.toFixed(3)}, p ${tdD?.p?.toPrecision(2)}; Q difference ${qD?.latent}, r ${qD?.r.toFixed(3)}; ${probeLine(s, FIRST_STAGE)}`,
    );
  }
  for (const s of rewardScans) {
    const best = (scan: LatentScan, target: string) => scan.best.find((b) => b.target === `${REWARD_TOKEN}${target}`);
    const [td, reward, off, offResidual] = [best(s.scan, 'tdError'), best(s.scan, 'reward'), best(s.scan, 'tdOff'), best(s.residualScan, 'tdOff')];
    log(
      `  block ${s.block}, reward tokens: best TD-error latent ${td?.latent}, r ${td?.r.toFixed(3)}, p ${td?.p?.toPrecision(2)}; best reward latent r ${reward?.r.toFixed(3)}; ` +
        `beyond the reward: latent ${off?.latent}, r ${off?.r.toFixed(3)}, p ${off?.p?.toPrecision(2)}, residual dimension r ${offResidual?.r.toFixed(3)}; ${probeLine(s, REWARD_TOKEN)}`,
    );
  }

  for (const s of studies) {
    const b = s.scan.best.find((x) => x.target === `tdError${DETRENDED}`);
    log(`  block ${s.block}: best latent for the TD error less its mean at each point of the task: ${b?.latent}, r ${b?.r.toFixed(3)}, p ${b?.p?.toPrecision(2)}; ${probeLine(s, '')}`);
  }

  const lesionAt = (scans: readonly { block: number; acts: Float32Array; scan: LatentScan }[], table: TargetTable, target: string, name: string, what: string) => {
    const scan = strongest(scans, target);
    const study = studies.find((s) => s.block === scan.block)!;
    const sets = lesionSets({ ...study, acts: scan.acts }, table, target, o.lesionLatents);
    log(`two-step: ${name} block ${study.block}, ${what}: ${describeLesionSets(sets)}`);
    return { study, ...sets };
  };
  const { study: lesionStudy, lesioned, control } = lesionAt(studies, targets, 'tdError', 'lesion', 'TD-error latents');
  // How much of each lesioned latent's correlation is the drift of the TD error over the task.
  const detrendedR = new Map(latentsByCorrelation(lesionStudy, targets, `tdError${DETRENDED}`).map((l) => [l.latent, l.r]));
  const lesionedDetrended = lesioned.map((l) => detrendedR.get(l.latent) ?? 0);
  log(`  the same latents\u2019 r with the TD error less its mean at each point of the task: ${lesionedDetrended.map((r) => r.toFixed(3)).join(', ')}`);
  // The detrended lesion: the latents that track the TD error beyond its drift over the task, which no clock can follow.
  const detrended = lesionAt(studies, targets, `tdError${DETRENDED}`, 'detrended lesion', 'latents of the TD error less its mean at each point of the task');
  // The value lesion: the latents that track the first-stage Q difference, where the choice that earns reward is made.
  const value = lesionAt(stageScans, firstStage, `${FIRST_STAGE}qDiff`, 'value lesion', 'first-stage Q-difference latents');
  // The reward-token lesion: the latents that track the TD error where the model reads each reward.
  const reward = lesionAt(rewardScans, rewardTokens, `${REWARD_TOKEN}tdError`, 'reward-token lesion', 'reward-token TD-error latents');

  // The probe lesion: what a linear probe reads of the TD error at the first-stage choices, held at its mean at every decision.
  const probeLesion = await probeDirections(cleanStore, stageScans, firstStage, o.seed);
  log(
    `two-step: probe lesion block ${probeLesion.block}, the linear probe of ${probeLesion.target} (r ${probeLesion.r.toFixed(3)}, penalty ${probeLesion.lambda}), ` +
      `held at its mean at each decision; control: a random direction (first-stage sd ${probeLesion.atDecisions.sd.control.toFixed(3)} against the probe's ${probeLesion.atDecisions.sd.probe.toFixed(3)}, ` +
      `${probeLesion.atDecisions.sd.random.toFixed(3)} on average over all directions); then at every token (sd over all tokens ${probeLesion.everywhere.sd.control.toFixed(3)} ` +
      `against the probe's ${probeLesion.everywhere.sd.probe.toFixed(3)}, ${probeLesion.everywhere.sd.random.toFixed(3)} on average)`,
  );
  const probeStudy = studies.find((s) => s.block === probeLesion.block)!;

  // How many latents it takes to read each target, where a single latent reads little of the TD error.
  const sparseProbes: SparseProbes[] = stageScans.map((s) => ({
    block: s.block,
    probes: SPARSE_TARGETS.map((target) => ({ target, ...sparseProbe(s.acts, studies[0].sae.dSae, targetColumn(firstStage, target), firstStage.groups) })),
  }));
  for (const { block, probes } of sparseProbes) {
    const curve = (p: SparseProbes['probes'][number]) => `${p.target.slice(FIRST_STAGE.length)} ${p.points.map((q) => q.r.toFixed(2)).join('/')}`;
    log(`  block ${block}, first-stage choices, the best k latents together (k = ${SPARSE_PROBE_DEFAULTS.ks.join(', ')}; out-of-fold r): ${probes.map(curve).join('; ')}`);
  }

  const ablate = (latents: readonly { latent: number }[]): Edit => ({ kind: 'latents', latents: latents.map((l) => l.latent), op: { kind: 'ablate' } });
  const edits: [string, BlockStudy, Edit | HeldDirection][] = [
    ['reconstruction', lesionStudy, { kind: 'reconstruct' }],
    ['lesion', lesionStudy, ablate(lesioned)],
    ['control', lesionStudy, ablate(control)],
    [`scale${o.scaleFactor}`, lesionStudy, { kind: 'latents', latents: lesioned.map((l) => l.latent), op: { kind: 'scale', factor: o.scaleFactor } }],
    ['value-lesion', value.study, ablate(value.lesioned)],
    ['value-control', value.study, ablate(value.control)],
    ['reward-token-lesion', reward.study, ablate(reward.lesioned)],
    ['reward-token-control', reward.study, ablate(reward.control)],
    ['detrended-lesion', detrended.study, ablate(detrended.lesioned)],
    ['detrended-control', detrended.study, ablate(detrended.control)],
    ['probe-lesion', probeStudy, probeLesion.atDecisions.probe],
    ['probe-control', probeStudy, probeLesion.atDecisions.control],
    ['probe-everywhere-lesion', probeStudy, probeLesion.everywhere.probe],
    ['probe-everywhere-control', probeStudy, probeLesion.everywhere.control],
  ];
  const conditions: ConditionOutcome[] = [clean];
  // Every condition also scores the clean run's choices under the edited model.
  const curves = [
    ...curvesOf('none', studies.map((s) => ({ block: s.block, best: s.scan.best }))),
    ...curvesOf('none', [...stageScans, ...rewardScans].map((s) => ({ block: s.block, best: s.scan.best }))),
    ...curvesOf(PROBE_CONDITION, [...studies, ...stageScans, ...rewardScans].map((s) => ({ block: s.block, best: s.probes }))),
  ];
  const sessions = new Map<number, SaeSession>();
  for (const [condition, study, edit] of edits) {
    log(`two-step: replaying under '${condition}' at block ${study.block}`);
    let delta: DeltaFn;
    if (edit.kind === 'direction') {
      delta = directionDelta(edit, edit.at);
    } else {
      if (!sessions.has(study.block)) sessions.set(study.block, SaeSession.create(study.sae));
      delta = saeDelta(sessions.get(study.block)!, { block: study.block, edit, at: 'all' });
    }
    const interventions = { [study.block]: delta };
    // Scored in one pass per transcript, an edit that play makes at each append's last token (a decision) is made at the marked decisions.
    const atDecisions = edit.kind === 'direction' && edit.at === 'last';
    const scored = await scoreTwoStep(
      model,
      cleanPlayed,
      { marks: atDecisions ? 'decisions' : 'rewards' },
      { interventions: atDecisions ? { [study.block]: directionDelta(edit, 'marked') } : interventions, signal: ctx.signal },
    );
    const choiceCost = choiceCosts(cleanPlayed, scored);
    log(`  the clean run's choices cost the edited model ${mean(choiceCost).toFixed(3)} nats per experiment`);
    if (condition === 'lesion') {
      const store = join(ctx.outDir, 'activations', 'two-step-lesion');
      const played = await playRecorded(ctx, store, blocks, play, interventions, 'every');
      conditions.push(outcome(condition, played, o.randomEpisodes, choiceCost));
      curves.push(...(await lesionCurves(played, store, studies, o)));
    } else {
      conditions.push(outcome(condition, await playTwoStep(model, play, { interventions, signal: ctx.signal }), o.randomEpisodes, choiceCost));
    }
  }
  for (const session of sessions.values()) await session.release();

  const byName = new Map(conditions.map((c) => [c.condition, c]));
  const interventions: InterventionResult[] = conditions.flatMap((c) => [
    { condition: c.condition, metric: 'return', ...asResult(estimate(c.returns)) },
    { condition: c.condition, metric: 'nll', value: c.nll, ci95: scaled(estimate(c.nllPerExperiment), c.nllPerExperiment.length) },
    ...(c === clean ? [] : [{ condition: c.condition, metric: 'choice-cost', ...asResult(estimate(c.choiceCost)) }]),
  ]);
  // Each lesion against its own control, paired by experiment.
  // Each lesion's control is named as it is, with 'control' for 'lesion'.
  for (const lesionName of edits.map(([condition]) => condition).filter((c) => c.endsWith('lesion'))) {
    const controlName = lesionName.replace(/lesion$/, 'control');
    const [lesioned, control] = [byName.get(lesionName)!, byName.get(controlName)!];
    const condition = `${lesionName}-minus-control`;
    interventions.push(
      { condition, metric: 'return', ...asResult(pairedDifference(lesioned.returns, control.returns)) },
      { condition, metric: 'nll-per-experiment', ...asResult(pairedDifference(lesioned.nllPerExperiment, control.nllPerExperiment)) },
      { condition, metric: 'choice-cost', ...asResult(pairedDifference(lesioned.choiceCost, control.choiceCost)) },
    );
  }
  const bestLatents = [...bestLatentResults(studies), ...stageLatentResults(stageScans), ...stageLatentResults(rewardScans)];
  const probes = probeReadings([...studies, ...stageScans, ...rewardScans]);
  const reconstructionProbes = probeReadings([...studies, ...stageScans, ...rewardScans], 'reconstruction');
  const bestTd = lesionStudy.scan.best.find((b) => b.target === 'tdError')!;
  // Each condition's block is that of its edit; the clean run is reported at the TD lesion's.
  const editBlocks = new Map(edits.map(([condition, study]) => [condition, study.block]));
  const blockOf = (condition: string) => editBlocks.get(condition) ?? lesionStudy.block;
  const ours: Record<string, Figure> = {
    'maxR.tdError': { value: bestTd.r, block: lesionStudy.block, note: `latent ${bestTd.latent}, permutation p ${bestTd.p}` },
    'lesioned.meanAbsR.tdErrorDetrended': {
      value: mean(lesionedDetrended.map(Math.abs)),
      block: lesionStudy.block,
      note: `the lesioned TD-error latents' mean |r| with the TD error less its mean at each point of the task (with the TD error itself: ${mean(lesioned.map((l) => Math.abs(l.r))).toFixed(3)})`,
    },
    ...Object.fromEntries(
      [
        ...[`tdError${DETRENDED}`, `qChosen${DETRENDED}`],
        ...['tdError', 'qDiff', 'qChosen', `tdError${DETRENDED}`, `qDiff${DETRENDED}`].map((t) => `${FIRST_STAGE}${t}`),
        ...['tdError', 'reward', 'tdOff', 'qChosen', `tdError${DETRENDED}`].map((t) => `${REWARD_TOKEN}${t}`),
      ].flatMap((target) => {
        const figure = maxRFigure(bestLatents, target);
        return figure ? [[`maxR.${target}`, figure]] : [];
      }),
    ),
    'probeLesion.r': {
      value: probeLesion.r,
      block: probeLesion.block,
      note: `the held probe's out-of-fold r with ${probeLesion.target}`,
    },
    ...Object.fromEntries(
      sparseProbes
        .find((s) => s.block === probeLesion.block)!
        .probes.flatMap((p) =>
          p.points.map((q) => [
            `sparseProbe.${p.target}.k${q.k}`,
            { value: q.r, block: probeLesion.block, note: `out-of-fold r of the best ${q.k} latents together (chosen by orthogonal matching pursuit and fitted by least squares inside folds by experiment)` },
          ]),
        ),
    ),
    'probeLesion.sd.probe': { value: probeLesion.atDecisions.sd.probe, block: probeLesion.block, note: 'the sd of the first-stage rows along the probe' },
    'probeLesion.sd.control': { value: probeLesion.atDecisions.sd.control, block: probeLesion.block, note: 'the sd of the first-stage rows along the control direction' },
    'probeLesion.sd.random': { value: probeLesion.atDecisions.sd.random, block: probeLesion.block, note: 'the root mean square over all directions of the first-stage rows\' sd along them' },
    'probeLesion.everywhere.sd.probe': { value: probeLesion.everywhere.sd.probe, block: probeLesion.block, note: 'the sd of all tokens along the probe' },
    'probeLesion.everywhere.sd.control': { value: probeLesion.everywhere.sd.control, block: probeLesion.block, note: 'the sd of all tokens along the everywhere control direction' },
    'probeLesion.everywhere.sd.random': { value: probeLesion.everywhere.sd.random, block: probeLesion.block, note: 'the root mean square over all directions of all tokens\' sd along them' },
    ...Object.fromEntries(comparison.rows.map((r) => [`modelNll.${r.model}`, { value: r.nll }])),
    ...Object.fromEntries(
      conditions.flatMap((c) => [
        [`intervention.return.${c.condition}`, { value: mean(c.returns), block: blockOf(c.condition), note: `expected reward per episode (the chance of treasure of the option chosen), episodes ${o.randomEpisodes + 1}-${o.episodes}` }],
        [`intervention.nll.${c.condition}`, { value: c.nll, block: blockOf(c.condition) }],
        [`intervention.choiceCost.${c.condition}`, { value: mean(c.choiceCost), block: blockOf(c.condition), note: 'nats per experiment: the clean run\u2019s choices\u2019 log-probability under the clean model less under the edited one, on the clean transcripts' }],
      ]),
    ),
  };
  // The paper looked at blocks past the lesion (beyond block 55 of 80); here, the lesion block and those after it.
  for (const condition of ['none', 'lesion']) {
    for (const [key, target] of [['tdError', TARGETS_PLOTTED.tdError], ['qValue', TARGETS_PLOTTED.qChosen]]) {
      const late = curves.filter((c) => c.condition === condition && c.target === target && c.block >= lesionStudy.block).map((c) => c.r);
      if (late.length > 0) ours[`intervention.lateMaxR.${key}.${condition}`] = { value: mean(late), note: `mean over blocks ${lesionStudy.block}-${blocks[blocks.length - 1]} of the best latent's |r|` };
    }
  }
  return {
    options: o,
    clean,
    models: comparison.rows.map((r) => ({ model: r.model, nll: r.nll, bic: r.bic, params: r.params })),
    blocks: studies,
    targets,
    stageScans,
    firstStage,
    lesionBlock: lesionStudy.block,
    lesioned,
    control,
    valueBlock: value.study.block,
    valueLesioned: value.lesioned,
    valueControl: value.control,
    rewardScans,
    rewardTokens,
    rewardBlock: reward.study.block,
    rewardLesioned: reward.lesioned,
    rewardControl: reward.control,
    detrendedBlock: detrended.study.block,
    detrendedLesioned: detrended.lesioned,
    detrendedControl: detrended.control,
    probeLesion,
    sparseProbes,
    conditions,
    curves,
    bestLatents,
    probes,
    reconstructionProbes,
    interventions,
    ours,
  };
}

/** A direction of the residual stream whose reading is held at the center's (see {@link directionDelta}), at the decisions ('last') or at every token. */
interface HeldDirection {
  kind: 'direction';
  weights: Float64Array;
  center: Float64Array;
  at: SplicePositions;
}

/**
 * The probe lesion's directions: the block whose probe reads the target best, its
 * probe refitted on all first-stage rows, and a random direction along which those
 * rows vary as much.
 */
async function probeDirections(storeDir: string, stageScans: readonly StageScan[], firstStage: TargetTable, seed: number): Promise<ProbeLesion> {
  const target = PROBE_LESION_TARGET;
  const r = (s: StageScan) => s.probes.find((p) => p.target === target)?.r ?? -Infinity;
  const best = stageScans.reduce((a, b) => (r(b) > r(a) ? b : a));
  const store = await ActivationStore.open(storeDir);
  const d = store.dModel;
  const all = await store.readAll(best.block);
  const x = gatherRows(all, d, firstStage.rows!);
  const y = targetColumn(firstStage, target);
  const fit = ridgeProbe(x, d, y, firstStage.groups);
  const lambda = [...fit.lambdas].sort((a, b) => a - b)[Math.floor(fit.lambdas.length / 2)];
  const probe = ridgeDirection(x, d, y, lambda);
  const rng = Rng.fromSeed(seed);
  const g = Float64Array.from({ length: d }, () => rng.normal());
  // The same direction and random draw twice: held at the decisions, where the probe was fitted, centred on their mean;
  // and at every token the model read, centred on the mean of all of them, each with a control matched over its rows.
  const pair = (rows: Float32Array, center: Float64Array, at: SplicePositions): HeldPair => {
    const { control, sd } = matchedControl(rowCovariance(rows, d, center), d, probe.weights, g);
    const held = (weights: Float64Array): HeldDirection => ({ kind: 'direction', weights, center, at });
    return { probe: held(probe.weights), control: held(control), sd };
  };
  return {
    block: best.block,
    target,
    r: r(best),
    lambda,
    probe,
    atDecisions: pair(x, probe.center, 'last'),
    everywhere: pair(all, columnMeans(all, d), 'all'),
  };
}

async function playRecorded(
  ctx: StudyContext,
  dir: string,
  blocks: number[],
  play: Partial<PlayOptions>,
  interventions?: Record<number, DeltaFn>,
  /** 'every' for the clean run, whose store trains the SAEs, and for the lesioned run, whose reward tokens are scanned again. */
  positions: RecordedPositions = 'answers',
): Promise<PlayedExperiment[]> {
  // The store is this run's own intermediate data: a previous run's is replaced.
  await rm(dir, { recursive: true, force: true });
  const recorder = await ResidualRecorder.open(dir, blocks, ctx.model.info.dModel, positions);
  const played = await playTwoStep(ctx.model, play, { recorder, interventions, signal: ctx.signal });
  await recorder.close();
  return played;
}

function outcome(condition: string, played: PlayedExperiment[], randomEpisodes: number, choiceCost: number[]): ConditionOutcome {
  const returns = played.map((g) => mean(g.episodes.slice(randomEpisodes).map(expectedReward)));
  const data = { spec: TWO_STEP_SPEC, experiments: played };
  const fit = fitModel(Q_LEARNING, data, { restarts: 3, seed: 0 });
  const nllPerExperiment = fit.latents.map((steps, e) => -steps.reduce((s, l, i) => s + (played[e].scored[i] ? l.logProb : 0), 0));
  return {
    condition,
    played,
    returns,
    returnPerEpisode: played[0].episodes.map((_, k) => estimate(played.map((g) => expectedReward(g.episodes[k])))),
    nll: fit.nll,
    nllPerExperiment,
    choiceCost,
  };
}

/**
 * Per experiment, the clean run's choices' log-probability under the clean model
 * less that under the edited one (see {@link ConditionOutcome.choiceCost}), from
 * the edited model's distributions at the clean run's decisions.
 */
function choiceCosts(clean: readonly PlayedExperiment[], edited: readonly (readonly (readonly number[])[])[]): number[] {
  return clean.map((g, e) => g.decisions.reduce((sum, d, i) => sum + (d.byModel ? d.logProbs[d.action] - edited[e][i][d.action] : 0), 0));
}

/** Correlations recomputed after a lesion: the same SAEs, targets from Q-learning refitted to the lesioned choices. */
async function lesionCurves(played: PlayedExperiment[], dir: string, studies: BlockStudy[], o: TwoStepStudyOptions) {
  const fit = fitModel(Q_LEARNING, { spec: TWO_STEP_SPEC, experiments: played }, { restarts: 3, seed: o.seed });
  const rows = played.map((g) => g.decisions.map((d) => d.row));
  const pooled = twoStepTargets(fit.latents, { rows });
  const firstStage = firstStageTargets(fit.latents, { rows });
  const rewardTokens = rewardTokenTargets(fit.latents, { rows: played.map((g) => g.decisions.map((d) => d.rewardRow)) });
  const subset = subsetRows(pooled, firstStage);
  const store = await ActivationStore.open(dir);
  const best = [];
  for (const s of studies) {
    const session = SaeSession.create(s.sae);
    const all = await store.readAll(s.block);
    const acts = await session.encode(gatherRows(all, store.dModel, pooled.rows!));
    const rewardActs = await session.encode(gatherRows(all, store.dModel, rewardTokens.rows!));
    await session.release();
    best.push({ block: s.block, best: scanLatents(acts, s.sae.dSae, pooled, { permutations: 0 }).best });
    best.push({ block: s.block, best: scanLatents(gatherRows(acts, s.sae.dSae, subset), s.sae.dSae, firstStage, { permutations: 0 }).best });
    best.push({ block: s.block, best: scanLatents(rewardActs, s.sae.dSae, rewardTokens, { permutations: 0 }).best });
  }
  return curvesOf('lesion', best);
}

function curvesOf(condition: string, perBlock: { block: number; best: { target: string; r: number }[] }[]) {
  return perBlock.flatMap(({ block, best }) =>
    best
      .filter((b) => b.target in TARGETS_PLOTTED && Number.isFinite(b.r))
      .map((b) => ({ condition, target: TARGETS_PLOTTED[b.target], block, r: Math.abs(b.r) })),
  );
}

/**
 * Each block's SAE latents and residual dimensions scanned at the first-stage
 * choices alone and at the reward tokens, each block's store rows read once.
 * The first-stage rows are a subset of the pooled table's, so the latents'
 * activations there are taken from the block study's; the reward tokens are not
 * answer points, so theirs are encoded from the store.
 */
async function rowScans(
  storeDir: string,
  studies: readonly BlockStudy[],
  tables: { pooled: TargetTable; firstStage: TargetTable; rewardTokens: TargetTable },
  o: TwoStepStudyOptions,
  signal?: AbortSignal,
): Promise<{ stageScans: StageScan[]; rewardScans: StageScan[] }> {
  const { firstStage, rewardTokens } = tables;
  const subset = subsetRows(tables.pooled, firstStage);
  const store = await ActivationStore.open(storeDir);
  const stageScans: StageScan[] = [];
  const rewardScans: StageScan[] = [];
  for (const s of studies) {
    const all = await store.readAll(s.block);
    const session = SaeSession.create(s.sae);
    const stageActs = gatherRows(s.acts, s.sae.dSae, subset);
    const stage = { acts: stageActs, residual: gatherRows(all, store.dModel, firstStage.rows!), reconstruction: await session.decode(stageActs) };
    stageScans.push(stageScan(s, stage, store.dModel, firstStage, PROBED.firstStage, o, signal));
    const residual = gatherRows(all, store.dModel, rewardTokens.rows!);
    const acts = await session.encode(residual);
    const reward = { acts, residual, reconstruction: await session.decode(acts) };
    await session.release();
    rewardScans.push(stageScan(s, reward, store.dModel, rewardTokens, PROBED.rewardTokens, o, signal));
  }
  return { stageScans, rewardScans };
}

/**
 * A block's scans at some rows: its SAE's latents there, with the permutation null,
 * the residual dimensions, and linear probes of the targets named, of the residual
 * stream and of the SAE's reconstruction.
 */
function stageScan(
  s: BlockStudy,
  { acts, residual, reconstruction }: { acts: Float32Array; residual: Float32Array; reconstruction: Float32Array },
  dModel: number,
  table: TargetTable,
  probed: readonly string[],
  o: TwoStepStudyOptions,
  signal?: AbortSignal,
): StageScan {
  return {
    block: s.block,
    acts,
    scan: scanLatents(acts, s.sae.dSae, table, { permutations: o.permutations, seed: o.seed }, signal),
    residualScan: scanLatents(residual, dModel, table, { permutations: 0 }),
    probes: probeColumns(residual, dModel, table, probed),
    reconstructionProbes: probeColumns(reconstruction, dModel, table, probed),
  };
}

/** The log's account of some rows' probes: each target's out-of-fold r (and of the SAE's reconstruction), its prefix left off. */
function probeLine(s: { probes: readonly { target: string; r: number }[]; reconstructionProbes: readonly { target: string; r: number }[] }, prefix: string): string {
  const kept = (target: string) => s.reconstructionProbes.find((p) => p.target === target)?.r.toFixed(3);
  return `linear probe (of the SAE's reconstruction): ${s.probes.map((p) => `${p.target.slice(prefix.length)} ${p.r.toFixed(3)} (${kept(p.target)})`).join(', ')}`;
}

/** Where each row of a table restricted to some of the pooled table's store rows sits in the pooled table. */
function subsetRows(pooled: TargetTable, subset: TargetTable): Int32Array {
  const index = new Map(Array.from(pooled.rows!, (id, i) => [id, i]));
  return Int32Array.from(subset.rows!, (id) => index.get(id)!);
}

/** The study (or scan) whose best latent tracks the target most closely. */
function strongest<S extends { scan: LatentScan }>(studies: readonly S[], target: string): S {
  const r = (s: S) => Math.abs(s.scan.best.find((b) => b.target === target)?.r ?? 0);
  return studies.reduce((a, b) => (r(b) > r(a) ? b : a));
}

/** The stage scans' best latents and residual dimensions, as results.json lists them. */
function stageLatentResults(scans: readonly StageScan[]): BestLatentResult[] {
  return scans.flatMap((s) =>
    (['sae', 'residual'] as const).flatMap((source) =>
      (source === 'sae' ? s.scan : s.residualScan).best
        .filter((b) => b.latent >= 0)
        .map((b) => ({ target: b.target, block: s.block, latent: b.latent, r: b.r, p: b.p, spearman: b.spearman, source })),
    ),
  );
}

/** A total's interval from its per-experiment mean's. */
function scaled(e: Estimate, n: number): [number, number] {
  return [e.ci95[0] * n, e.ci95[1] * n];
}

/** Token ids of a few transcripts, on which each SAE's cost to the model's loss is measured. */
export function spliceSequences(model: LanguageModel, texts: readonly string[], count = 20): number[][] {
  const tokenizer = model.requireTokenizer();
  return texts.slice(0, count).map((t) => tokenizer.encode(t));
}
