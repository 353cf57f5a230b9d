import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readLatents } from '../../../src/core/analysis/discovered';
import { readResults } from '../../../src/core/analysis/results';
import type { LanguageModel } from '../../../src/core/lm';
import { graphStudyRecords, reproduce } from '../../../src/core/reproduce/run';
import { loadSae } from '../../../src/core/sae';
import { graphBatch, gridBatch } from '../../../src/core/simulation';
import { CommunityGraph } from '../../../src/core/envs/communityGraph';
import { tempDir } from '../../fixtures/lm/folders';
import { coveringTexts, loadTranscriptModel } from '../../fixtures/lm/transcriptModel';

const dir = tempDir('icrl-lens-reproduce-');
let model: LanguageModel;

before(async () => {
  const texts = coveringTexts(
    [...gridBatch({ experiments: 6, episodes: 10, seed: 7001 }), ...graphStudyRecords({ experiments: 6, episodes: 10, seed: 7001 }, 'fixed')].map((r) => r.transcript.text),
  );
  model = await loadTranscriptModel(dir.path, texts);
});

after(async () => {
  await model.dispose();
  dir.remove();
});

test('reproduce runs every task end to end and writes files that read back', async () => {
  const out = join(dir.path, 'out');
  const lines: string[] = [];
  const results = await reproduce(
    model,
    { tasks: ['two-step', 'grid', 'graph'], outDir: out, modelName: 'fixture', common: { experiments: 6, episodes: 10, permutations: 5, saeEpochs: 2 } },
    (line) => lines.push(line),
  );
  const read = await readResults(join(out, 'results.json'));
  assert.deepEqual(read, JSON.parse(JSON.stringify(results)));
  for (const task of ['two-step', 'grid', 'graph'] as const) {
    const r = read.tasks[task]!;
    assert.ok(r.bestLatents.some((b) => (b.source ?? 'sae') === 'sae'), task);
    assert.ok(r.bestLatents.some((b) => b.source === 'random-sae') && r.bestLatents.some((b) => b.source === 'residual'), task);
    const conditions = new Set(r.interventions.map((i) => i.condition));
    for (const c of ['none', 'reconstruction', 'lesion', 'control', 'lesion-minus-control']) assert.ok(conditions.has(c), `${task}: ${c}`);
    for (const f of r.figures) assert.ok(existsSync(join(out, f)), f);
    assert.ok(Object.keys(r.paper).length > 0);
  }
  // With the same seed, a replay without an edit would be the clean run; the reconstruction splice is a real edit.
  const twoStep = read.tasks['two-step']!;
  const value = (condition: string, metric: string) => twoStep.interventions.find((i) => i.condition === condition && i.metric === metric)!.value;
  assert.ok(Number.isFinite(value('lesion', 'return')) && Number.isFinite(value('none', 'nll')));
  // The value lesion (first-stage Q-difference latents) against its own control, on the same paired experiments.
  for (const metric of ['return', 'nll-per-experiment']) assert.ok(Number.isFinite(value('value-lesion-minus-control', metric)), metric);
  assert.ok(Number.isFinite(value('value-lesion', 'nll')) && Number.isFinite(value('value-control', 'return')));
  // The first-stage scans: SAE latents with a permutation p, and residual dimensions as a baseline.
  const stage = twoStep.bestLatents.filter((b) => b.target === 'firstStage.qDiff');
  assert.ok(stage.some((b) => (b.source ?? 'sae') === 'sae' && b.p !== null) && stage.some((b) => b.source === 'residual'));
  assert.ok(twoStep.ours['maxR.firstStage.qDiff'].value === stage.filter((b) => (b.source ?? 'sae') === 'sae').reduce((a, b) => (Math.abs(b.r) > Math.abs(a.r) ? b : a)).r);
  assert.ok(lines.some((l) => l.includes('value lesion block')));
  // The reward-token scans and lesion: the TD error where each reward is read, beside the reward itself and what is left of it.
  for (const metric of ['return', 'nll-per-experiment']) assert.ok(Number.isFinite(value('reward-token-lesion-minus-control', metric)), metric);
  for (const target of ['tdError', 'reward', 'tdOff', 'qChosen']) {
    const found = twoStep.bestLatents.filter((b) => b.target === `rewardToken.${target}`);
    assert.ok(found.some((b) => (b.source ?? 'sae') === 'sae' && b.p !== null) && found.some((b) => b.source === 'residual'), target);
    assert.ok(Number.isFinite(twoStep.ours[`maxR.rewardToken.${target}`].value), target);
  }
  assert.ok(lines.some((l) => l.includes('reward-token lesion block')));
  // The clock control: each drifting target less its mean at each point of the task, with a permutation p, and how far the lesioned latents follow it.
  for (const target of ['tdErrorDetrended', 'qChosenDetrended', 'firstStage.tdErrorDetrended', 'firstStage.qDiffDetrended', 'rewardToken.tdErrorDetrended']) {
    assert.ok(twoStep.bestLatents.some((b) => b.target === target && (b.source ?? 'sae') === 'sae' && b.p !== null), target);
    assert.ok(Number.isFinite(twoStep.ours[`maxR.${target}`].value), target);
  }
  assert.ok(twoStep.ours['lesioned.meanAbsR.tdErrorDetrended'].value >= 0);
  for (const metric of ['return', 'nll-per-experiment']) assert.ok(Number.isFinite(value('detrended-lesion-minus-control', metric)), metric);
  assert.ok(lines.some((l) => l.includes('detrended lesion block')));
  for (const target of ['tdErrorDetrended', 'qChosenDetrended']) assert.ok(Number.isFinite(read.tasks.grid!.ours[`maxR.${target}`].value), `grid ${target}`);
  // The probe lesion: a linear probe's direction held at its mean at the decisions, against a random direction along which the rows vary as much.
  for (const metric of ['return', 'nll-per-experiment']) assert.ok(Number.isFinite(value('probe-lesion-minus-control', metric)), metric);
  assert.ok(Math.abs(twoStep.ours['probeLesion.r'].value) <= 1);
  const sd = (which: string) => twoStep.ours[`probeLesion.sd.${which}`].value;
  assert.ok(sd('probe') > 0 && Math.abs(sd('control') / sd('probe') - 1) < 1e-3, `the control varies as much as the probe: ${sd('control')} against ${sd('probe')}`);
  // And held at every token, against a control matched over all the tokens.
  for (const metric of ['return', 'nll-per-experiment']) assert.ok(Number.isFinite(value('probe-everywhere-lesion-minus-control', metric)), metric);
  assert.ok(sd('random') > 0 && twoStep.ours['probeLesion.everywhere.sd.random'].value > 0);
  const sdAll = (which: string) => twoStep.ours[`probeLesion.everywhere.sd.${which}`].value;
  assert.ok(sdAll('probe') > 0 && Math.abs(sdAll('control') / sdAll('probe') - 1) < 1e-3, `everywhere: ${sdAll('control')} against ${sdAll('probe')}`);
  assert.ok(lines.some((l) => l.includes('probe lesion block')));
  // The choice cost: every edited condition replays the clean run's choices; each lesion's paired difference is its mean less its control's.
  for (const lesion of ['lesion', 'value-lesion', 'reward-token-lesion', 'detrended-lesion', 'probe-lesion', 'probe-everywhere-lesion']) {
    const control = lesion.replace(/lesion$/, 'control');
    const difference = value(`${lesion}-minus-control`, 'choice-cost');
    assert.ok(Math.abs(difference - (value(lesion, 'choice-cost') - value(control, 'choice-cost'))) < 1e-9, lesion);
    assert.equal(twoStep.ours[`intervention.choiceCost.${lesion}`].value, value(lesion, 'choice-cost'));
  }
  assert.equal(twoStep.ours['intervention.choiceCost.none'].value, 0);
  // Each lesion beside its control, in a forest plot per metric; the return per episode shows the paper's conditions alone.
  const figureData = (name: string) => JSON.parse(readFileSync(join(out, 'figures', 'two-step', `${name}.vl.json`), 'utf8')).data.values as { condition: string; value: number }[];
  for (const [name, metric] of [['choice-cost-by-lesion', 'choice-cost'], ['return-by-lesion', 'return']]) {
    const expected = twoStep.interventions.filter((i) => i.metric === metric && i.condition.endsWith('-minus-control')).map((i) => [i.condition.replace(/-minus-control$/, ''), i.value]);
    assert.equal(expected.length, 6, metric);
    assert.deepEqual(figureData(name).map((e) => [e.condition, e.value]), expected, name);
  }
  assert.deepEqual([...new Set(figureData('return-per-episode').map((e) => e.condition))], ['none', 'reconstruction', 'lesion', 'control', 'scale-10']);
  // How many latents it takes to read each first-stage target: its k-sparse probe at every k, as results.json has it at the probe lesion's block.
  const sparse = JSON.parse(readFileSync(join(out, 'figures', 'two-step', 'latents-needed.vl.json'), 'utf8')).data.values as { target: string; k: number; r: number }[];
  assert.deepEqual([...new Set(sparse.map((p) => p.target))], ['TD error', 'TD error less its mean per trip', 'Q difference']);
  for (const p of sparse) {
    const key = `sparseProbe.firstStage.${{ 'TD error': 'tdError', 'TD error less its mean per trip': 'tdErrorDetrended', 'Q difference': 'qDiff' }[p.target]}.k${p.k}`;
    assert.equal(twoStep.ours[key].value, p.r, key);
    assert.ok(Math.abs(p.r) <= 1);
  }
  // The lesioned run records every token too, so every panel of the correlation figure has its curve after the lesion.
  const curves = JSON.parse(readFileSync(join(out, 'figures', 'two-step', 'max-correlation-per-block.vl.json'), 'utf8')).data.values as { condition: string; target: string }[];
  const panels = [...new Set(curves.map((c) => c.target))];
  assert.deepEqual(panels, ['TD error', 'Q-value', 'TD error less its mean at each trip', 'TD error, first stage', 'Q difference, first stage', 'TD error, reward token', 'TD beyond reward, reward token']);
  for (const panel of panels) assert.ok(curves.some((c) => c.target === panel && c.condition === 'lesion'), panel);
  // Every block has a linear probe of its residual stream beside its best latent, at the same rows, and the best over blocks is a figure.
  const blocks = model.info.blocks.map((_, i) => i);
  const probed: Record<string, string[]> = {
    'two-step': ['tdError', 'tdErrorDetrended', 'qChosen', 'firstStage.qDiff', 'firstStage.tdErrorDetrended', 'rewardToken.tdOff', 'rewardToken.reward'],
    grid: ['tdError', 'qChosen', 'tdErrorDetrended'],
    graph: ['srOff[0]', 'srTd[3]', 'sr[1]', 'node[2]'],
  };
  for (const [task, targets] of Object.entries(probed)) {
    const probes = read.tasks[task as 'grid']!.probes!;
    for (const target of targets) {
      const found = probes.filter((p) => p.target === target);
      assert.deepEqual(found.map((p) => p.block), blocks, `${task} ${target}`);
      for (const p of found) assert.ok(Math.abs(p.r) <= 1, `${task} ${target}`);
    }
    const family = targets[0].replace(/\[\d+\]$/, '');
    const best = Math.max(...probes.filter((p) => p.target.replace(/\[\d+\]$/, '') === family).map((p) => p.r));
    assert.equal(read.tasks[task as 'grid']!.ours[`probe.${family}`].value, best, task);
    // The same probe fitted to the SAE's reconstruction of those rows: what of the target the SAE keeps.
    const kept = read.tasks[task as 'grid']!.ours[`probe.reconstruction.${family}`];
    assert.ok(Math.abs(kept.value) <= 1 && blocks.includes(kept.block!), `${task} ${family}: ${JSON.stringify(kept)}`);
  }
  assert.ok(lines.some((l) => l.includes("linear probe (of the SAE's reconstruction)")));
  for (const panel of ['TD error', 'Q difference, first stage', 'TD beyond reward, reward token']) assert.ok(curves.some((c) => c.target === panel && c.condition === 'linear probe'), panel);
  const srCurves = JSON.parse(readFileSync(join(out, 'figures', 'graph', 'sr-correlation-per-block.vl.json'), 'utf8')).data.values as { condition: string; target: string }[];
  assert.deepEqual([...new Set(srCurves.map((c) => c.condition))].sort(), ['best latent', 'linear probe']);
  assert.ok(lines.some((l) => l.includes('linear probe')));
  // Grid and graph report the mean log-probability of the answers beside accuracy; the paired difference is the difference of the means.
  for (const task of ['grid', 'graph'] as const) {
    const rows = read.tasks[task]!.interventions;
    const logProb = (condition: string) => rows.find((i) => i.condition === condition && i.metric === 'log-prob')!.value;
    assert.ok(logProb('none') < 0 && logProb('lesion') < 0, task);
    assert.ok(Math.abs(logProb('lesion-minus-control') - (logProb('lesion') - logProb('control'))) < 1e-9, task);
  }
  const latents = await readLatents(out);
  assert.ok(latents.latents.length > 0);
  assert.equal(latents.modelHash, model.info.hash);
  const first = latents.latents[0];
  const sae = await loadSae(join(out, first.sae!));
  assert.ok(first.latent < sae.dSae);
  assert.ok(latents.latents.some((l) => l.task === 'two-step' && l.target.startsWith('firstStage.')));
  assert.ok(lines.some((l) => l.includes('lesion block')));
  // Every block's SAE is evaluated: FVU, L0 and dead fraction in range, the CE loss recovered measured.
  for (const block of model.info.blocks.map((_, i) => i)) {
    const ours = read.tasks['two-step']!.ours;
    assert.ok(ours[`sae.fvu.block${block}`].value >= 0);
    assert.ok(ours[`sae.l0.block${block}`].value >= 0);
    const dead = ours[`sae.deadFraction.block${block}`].value;
    assert.ok(dead >= 0 && dead <= 1);
  }
});

test('the graph study names the nodes alike in every walk, unless asked to draw names per walk', () => {
  const o = { experiments: 5, episodes: 3, seed: 7001 };
  const fixed = graphStudyRecords(o, 'fixed');
  // Node j is one word throughout, so a latent can track column j of the SR; the walks themselves still differ.
  for (const r of fixed) assert.deepEqual(r.env.words, [...CommunityGraph.create({}, o.seed).names]);
  assert.equal(new Set(fixed.map((r) => r.transcript.text)).size, fixed.length);
  // Per walk: the training data's naming, the same records as graphBatch gives.
  const perWalk = graphStudyRecords(o, 'per-walk');
  assert.deepEqual(perWalk, graphBatch(o));
  assert.equal(new Set(perWalk.map((r) => r.env.words.join(' '))).size, perWalk.length);
});
