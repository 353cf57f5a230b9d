import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { checkOneOf, ConfigError } from '../../core/config';
import { TASK_KINDS } from '../../core/envs/types';
import { taskRecords } from '../../core/simulation';
import type { ParamRanges } from '../../core/simulation/populations';
import { intOption, parseOptions } from '../args';
import type { Command } from './index';

const HELP = `icrl-lens dataset --task two-step|grid|graph --n N --seed S --out FILE.jsonl [options]

Writes N simulated experiments as JSON lines: each holds the transcript (text and
the character span of every answer), the episodes, the transitions and the
generating learner's variables (TD errors, Q-values or SR rows) at every answer.

Options:
  --task T             two-step, grid or graph
  --n N                experiments (default 100)
  --seed S             master seed (default 0)
  --out FILE           output file (JSON lines)
  --episodes N         episodes per experiment (default 30)
  --random-episodes N  two-step: opening episodes played at random (default 7)
  --rewards R          grid: 'true' or 'shuffled' (the control condition; default true)
  --communities N      graph: number of communities (default 3)
  --community-size N   graph: nodes per community (default 5)
  --agents RANGES      two-step and grid: agent parameter ranges that replace the defaults, as
                       name=low:high pairs separated by commas, e.g. beta=8:12,alpha=0.6:1
                       (two-step defaults alpha 0.3-0.8, gamma 0.7-1, beta 4-12; grid alpha
                       0.3-0.9, gamma 0.8-0.95, beta 3-10)`;

export const dataset: Command = {
  summary: 'write simulated transcripts with their learners\u2019 variables (JSON lines)',
  async run(argv) {
    const { values } = parseOptions(argv, {
      task: { type: 'string' },
      n: { type: 'string', default: '100' },
      seed: { type: 'string', default: '0' },
      out: { type: 'string' },
      episodes: { type: 'string' },
      'random-episodes': { type: 'string' },
      rewards: { type: 'string' },
      communities: { type: 'string' },
      'community-size': { type: 'string' },
      agents: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const task = checkOneOf('--task', values.task, TASK_KINDS);
    if (!values.out) throw new ConfigError('--out', values.out, 'a file to write the JSON lines to');
    const rewards = values.rewards === undefined ? undefined : checkOneOf('--rewards', values.rewards, ['true', 'shuffled'] as const);
    const records = taskRecords(task, {
      experiments: intOption('n', values.n, 1),
      seed: intOption('seed', values.seed),
      episodes: intOption('episodes', values.episodes, 1),
      randomEpisodes: intOption('random-episodes', values['random-episodes'], 0),
      rewards,
      communities: intOption('communities', values.communities, 2),
      communitySize: intOption('community-size', values['community-size'], 3),
      agents: values.agents === undefined ? undefined : agentRanges(values.agents),
    });
    // Each record is written as it is made, so a batch larger than memory streams
    // out. The first is made before the file is opened: an option the environment
    // refuses fails there and leaves no file behind.
    const made = records[Symbol.iterator]();
    let next = made.next();
    const out = createWriteStream(values.out);
    let written = 0;
    for (; !next.done; next = made.next()) {
      if (!out.write(`${JSON.stringify(next.value, roundNumbers)}\n`)) await once(out, 'drain');
      written++;
    }
    out.end();
    await once(out, 'finish');
    console.error(`wrote ${written} ${task} experiments to ${values.out}`);
    return 0;
  },
};

/** `name=low:high,...` as parameter ranges; the population checks the names and the ranges themselves. */
function agentRanges(text: string): ParamRanges {
  const out: Record<string, [number, number]> = {};
  for (const part of text.split(',')) {
    const m = /^\s*([A-Za-z]\w*)\s*=\s*([^:]+):([^:]+)$/.exec(part);
    const [lo, hi] = m ? [Number(m[2]), Number(m[3])] : [NaN, NaN];
    if (!m || !Number.isFinite(lo) || !Number.isFinite(hi)) throw new ConfigError('--agents', part, 'name=low:high pairs separated by commas, e.g. beta=8:12,alpha=0.6:1');
    out[m[1]] = [lo, hi];
  }
  return out;
}

/** Nine significant digits keep the file small without changing any value a model or a fit would notice. */
function roundNumbers(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isInteger(value) ? Number(value.toPrecision(9)) : value;
}
