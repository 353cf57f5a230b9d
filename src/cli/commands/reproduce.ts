import { basename, resolve } from 'node:path';
import { sideBySide } from '../../core/analysis/results';
import { checkOneOf } from '../../core/config';
import { loadModel, PROVIDERS } from '../../core/lm';
import { GRAPH_NAMES, reproduce as runStudy, REPRODUCIBLE_TASKS } from '../../core/reproduce/run';
import { intOption, numberOption, parseOptions, POLICY_HELP, policyOption } from '../args';
import { defaultModelDir } from '../defaultModel';
import type { Command } from './index';

const HELP = `icrl-lens reproduce --task two-step|grid|graph|all [options]

Runs the paper's study end to end on a model: the model plays (or watches), the
behavioural models are fitted to it, its residual stream is recorded, an SAE is
trained per block, every latent is correlated with TD errors and Q-values
(against a permutation null, a random SAE and the raw residual), and the best TD
latents are lesioned. Writes results.json (our numbers beside the paper's),
latents.json (the discovered latents), figures/ (SVG and Vega-Lite) and saes/
(SAELens folders).

Options:
  --task T             ${REPRODUCIBLE_TASKS.join(', ')} or all (default all)
  --model DIR          model folder (default: the embedded default model)
  --out DIR            output folder (default .icrl-lens)
  --experiments N      experiments (default 100)
  --episodes N         episodes per experiment (default 30)
  --seed S             master seed (default 7001)
  --permutations N     permutations of the null per block (default 200)
  --sae-epochs N       SAE training epochs (default 30 for the two-step task and 15 for the others, as the paper)
  --sae-l1 X           the SAEs' L1 coefficient (default 5)
  --sae-expansion X    SAE latents per residual dimension (default 8)
  --sae-whiten         train the SAEs on whitened residual rows (folded into the saved
                       weights), so that quiet directions count as much as loud ones
  --lesion-latents N   latents lesioned, and in the control (default 8 for the two-step task,
                       4 for the grid as the paper, 1 for the graph as the paper)
  --graph-names W      fixed (default: the same node names in every walk, so SR column j is
                       one word throughout) or per-walk (drawn afresh, as in the training data)
  --provider P         auto, cuda, webgpu or cpu (default auto)
${POLICY_HELP}`;

export const reproduce: Command = {
  summary: 'run the paper\u2019s study end to end and write results, latents and figures',
  async run(argv) {
    const { values } = parseOptions(argv, {
      task: { type: 'string', default: 'all' },
      model: { type: 'string' },
      out: { type: 'string', default: '.icrl-lens' },
      experiments: { type: 'string' },
      episodes: { type: 'string' },
      seed: { type: 'string' },
      permutations: { type: 'string' },
      'sae-epochs': { type: 'string' },
      'sae-l1': { type: 'string' },
      'sae-expansion': { type: 'string' },
      'sae-whiten': { type: 'boolean', default: false },
      'lesion-latents': { type: 'string' },
      'graph-names': { type: 'string', default: 'fixed' },
      provider: { type: 'string', default: 'auto' },
      policy: { type: 'string' },
      temperature: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const tasks = values.task === 'all' ? [...REPRODUCIBLE_TASKS] : [checkOneOf('--task', values.task, REPRODUCIBLE_TASKS)];
    const provider = checkOneOf('--provider', values.provider, ['auto', ...PROVIDERS] as const);
    const dir = values.model ?? defaultModelDir();
    const outDir = resolve(values.out!);
    const model = await loadModel(dir, { provider });
    try {
      const started = Date.now();
      console.error(`model ${dir} (${model.info.blocks.length} blocks, d_model ${model.info.dModel}) on ${model.providers.provider}; writing to ${outDir}`);
      const common = {
        experiments: intOption('experiments', values.experiments, 5),
        episodes: intOption('episodes', values.episodes, 10),
        seed: intOption('seed', values.seed),
        permutations: intOption('permutations', values.permutations, 0),
        saeEpochs: intOption('sae-epochs', values['sae-epochs'], 1),
        saeL1: numberOption('sae-l1', values['sae-l1'], 0),
        saeExpansion: numberOption('sae-expansion', values['sae-expansion'], Number.MIN_VALUE),
        saeWhiten: values['sae-whiten'] || undefined,
        lesionLatents: intOption('lesion-latents', values['lesion-latents'], 1),
        graphNames: checkOneOf('--graph-names', values['graph-names'], GRAPH_NAMES),
        policy: policyOption(values.policy, values.temperature),
      };
      // Each progress line is stamped with the time since the start, so a run shows where its time goes.
      const stamp = () => {
        const seconds = Math.floor((Date.now() - started) / 1000);
        return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
      };
      const results = await runStudy(model, { tasks, outDir, modelName: basename(resolve(dir)), common }, (line) => console.error(`[${stamp()}] ${line}`));
      for (const [task, result] of Object.entries(results.tasks)) {
        console.log(`\n${task}: ours beside the paper's`);
        for (const row of sideBySide(result)) {
          const fmt = (f: typeof row.ours) => (f === null ? '-' : `${Number(f.value.toPrecision(4))}${f.ci95 ? ` [${Number(f.ci95[0].toPrecision(3))}, ${Number(f.ci95[1].toPrecision(3))}]` : ''}${f.block !== undefined ? ` (block ${f.block})` : ''}`);
          console.log(`  ${row.quantity.padEnd(40)} paper ${fmt(row.paper).padEnd(24)} ours ${fmt(row.ours)}`);
        }
        const diff = result.interventions.filter((i) => i.condition.endsWith('-minus-control'));
        for (const d of diff) console.log(`  ${d.condition.replaceAll('-', ' ')}, ${d.metric}: ${d.value.toFixed(4)} [${d.ci95[0].toFixed(4)}, ${d.ci95[1].toFixed(4)}]`);
        console.log(`  figures: ${result.figures.join(', ')}`);
      }
      console.error(`\ndone in ${((Date.now() - started) / 1000).toFixed(0)} s; results in ${outDir}/results.json, latents in ${outDir}/latents.json`);
      return 0;
    } finally {
      await model.dispose();
    }
  },
};
