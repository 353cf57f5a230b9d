import { checkOneOf } from '../../core/config';
import { TASK_KINDS, type TaskKind } from '../../core/envs/types';
import { formatSummary, simulateTask } from '../../core/simulation';
import { intOption, parseOptions } from '../args';
import type { Command } from './index';

const HELP = `icrl-lens simulate --task two-step|grid|graph|all [options]

Simulates the agents of a task (Q-learners in the two-step task and the grid,
random walks on community graphs) and prints summary statistics: returns,
prediction accuracy, fitted parameters and a model comparison.

Options:
  --task T             two-step, grid, graph or all (default all)
  --experiments N      independent experiments (default 100)
  --episodes N         episodes per experiment (default 30)
  --random-episodes N  two-step: opening episodes played at random (default 7)
  --seed S             master seed (default 0)
  --json               print the summaries as JSON`;

export const simulate: Command = {
  summary: 'simulate the tasks and print their statistics',
  async run(argv) {
    const { values } = parseOptions(argv, {
      task: { type: 'string', default: 'all' },
      experiments: { type: 'string' },
      episodes: { type: 'string' },
      'random-episodes': { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const tasks: TaskKind[] = values.task === 'all' ? [...TASK_KINDS] : [checkOneOf('--task', values.task, TASK_KINDS)];
    const options = {
      experiments: intOption('experiments', values.experiments, 1),
      episodes: intOption('episodes', values.episodes, 1),
      randomEpisodes: intOption('random-episodes', values['random-episodes'], 0),
      seed: intOption('seed', values.seed),
    };
    const summaries = [];
    for (const task of tasks) {
      const summary = simulateTask(task, options).summarise();
      if (values.json) summaries.push(summary);
      else console.log(`${formatSummary(summary)}\n`);
    }
    if (values.json) console.log(JSON.stringify(summaries, null, 2));
    return 0;
  },
};
