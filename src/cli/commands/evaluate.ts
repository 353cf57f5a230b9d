import { evaluateModel, formatEvaluation } from '../../core/analysis/modelEvaluation';
import { checkOneOf } from '../../core/config';
import { loadModel, PROVIDERS } from '../../core/lm';
import { intOption, parseOptions, POLICY_HELP, policyOption } from '../args';
import { defaultModelDir } from '../defaultModel';
import type { Command } from './index';

const HELP = `icrl-lens evaluate [--model DIR] [options]

Measures whether a model shows the paper's phenomena, through the runtime, on
seeds the default model never saw in training: it plays the two-step task (the
first episodes at random), watches grid agents (true and shuffled rewards) and
graph walks, and probes its residual stream for TD errors and Q-values.

Options:
  --model DIR          model folder (default: the embedded default model)
  --experiments N      experiments per task (default 100)
  --episodes N         episodes per experiment (default 30)
  --seed S             master seed (default 7001)
  --provider P         auto, cuda, webgpu or cpu (default auto)
${POLICY_HELP}
  --json               print the evaluation as JSON`;

export const evaluate: Command = {
  summary: 'measure a model\u2019s in-context RL: returns, accuracy, fitted models, probes',
  async run(argv) {
    const { values } = parseOptions(argv, {
      model: { type: 'string' },
      experiments: { type: 'string' },
      episodes: { type: 'string' },
      seed: { type: 'string' },
      provider: { type: 'string', default: 'auto' },
      policy: { type: 'string' },
      temperature: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const provider = checkOneOf('--provider', values.provider, ['auto', ...PROVIDERS] as const);
    const dir = values.model ?? defaultModelDir();
    const model = await loadModel(dir, { provider });
    try {
      console.error(`model ${dir} (${model.info.blocks.length} blocks, d_model ${model.info.dModel}) on ${model.providers.provider}`);
      const started = Date.now();
      const evaluation = await evaluateModel(
        model,
        {
          experiments: intOption('experiments', values.experiments, 2),
          episodes: intOption('episodes', values.episodes, 10),
          seed: intOption('seed', values.seed),
          policy: policyOption(values.policy, values.temperature),
        },
        (line) => console.error(line),
      );
      console.error(`evaluated in ${((Date.now() - started) / 1000).toFixed(0)} s`);
      console.log(values.json ? JSON.stringify({ model: dir, hash: model.info.hash, provider: model.providers.provider, ...evaluation }, null, 2) : formatEvaluation(evaluation));
      return 0;
    } finally {
      await model.dispose();
    }
  },
};
