import { checkInteger, checkKnownKeys, checkOneOf, ConfigError } from '../config';
import { cellCoords, GRID_ACTIONS, shuffleGridRewards, type GridConfig, type GridEpisode } from '../envs/gridWorld';
import { checkLabels, formatNumber, TranscriptBuilder, type Transcript } from './transcript';

/**
 * Grid-world trajectories as the model watches them. Cells are named by column
 * letter and row number ("b3": second column, third row). Template (defaults shown):
 *
 *     An agent is moving through a 5 x 5 grid in search of rewards. ... (the instruction)
 *
 *     Episode 1:
 *     a1 right 0
 *     b1 down 0
 *     ...
 *     Episode 2:
 *     ...
 *
 * One line per step: the cell the agent was in, the way it went and the reward
 * it received. The action word is the answer (kind 'prediction', allowed the four
 * action words in action order). The lines are short on purpose: 30 episodes of
 * a grid fit in about a thousand word-level tokens, so a small model sees a whole
 * experiment in its context.
 */
export interface GridPromptOptions {
  /**
   * 'true': the rewards the agent received. 'shuffled': the control condition,
   * where the rewards shown are those of all steps of the experiment in a random
   * order (see shuffleGridRewards); cells, actions and episode ends are unchanged.
   */
  rewards: 'true' | 'shuffled';
  /** Seed of the shuffle; required when rewards is 'shuffled'. */
  shuffleSeed: number | null;
  /** Words for actions 0..3 (up, down, left, right). */
  actionWords: [string, string, string, string];
}

export const GRID_PROMPT_DEFAULTS: GridPromptOptions = {
  rewards: 'true',
  shuffleSeed: null,
  actionWords: [...GRID_ACTIONS],
};

export interface GridTranscriptMeta {
  rewards: 'true' | 'shuffled';
  shuffleSeed: number | null;
  actionWords: string[];
}

export function gridPromptOptions(partial: Partial<GridPromptOptions> = {}): GridPromptOptions {
  checkKnownKeys('gridPrompt', partial, Object.keys(GRID_PROMPT_DEFAULTS));
  const o = { ...GRID_PROMPT_DEFAULTS, ...partial };
  checkOneOf('gridPrompt.rewards', o.rewards, ['true', 'shuffled'] as const);
  if (o.rewards === 'shuffled') {
    if (o.shuffleSeed === null) throw new ConfigError('gridPrompt.shuffleSeed', null, "an integer seed, required when gridPrompt.rewards is 'shuffled'");
    checkInteger('gridPrompt.shuffleSeed', o.shuffleSeed);
  } else if (o.shuffleSeed !== null) {
    throw new ConfigError('gridPrompt.shuffleSeed', o.shuffleSeed, "null unless gridPrompt.rewards is 'shuffled'");
  }
  if (!Array.isArray(o.actionWords) || o.actionWords.length !== GRID_ACTIONS.length) {
    throw new ConfigError('gridPrompt.actionWords', o.actionWords, 'four words, for up, down, left and right');
  }
  checkLabels(Object.fromEntries(o.actionWords.map((w, i) => [`gridPrompt.actionWords[${i}]`, w])));
  return { ...o, actionWords: [o.actionWords[0], o.actionWords[1], o.actionWords[2], o.actionWords[3]] };
}

/**
 * A cell's name: its column as a letter (a from the left) and its row as a number
 * (1 from the top), so "b3" is column 1 of row 2. One word, so a word-level
 * tokenizer spends one token on it.
 */
export function cellName(cell: number, size: number): string {
  const [r, c] = cellCoords(cell, size);
  return `${String.fromCharCode(97 + c)}${r + 1}`;
}

/** The instruction that opens every grid transcript, followed by a blank line. */
export function gridInstruction(config: GridConfig, actionWords: readonly string[]): string {
  const { size, walls } = config;
  const [up, down, left, right] = actionWords;
  const last = String.fromCharCode(96 + size);
  const wallText =
    walls.length === 0
      ? ''
      : `Walls block the cell${walls.length > 1 ? 's' : ''} ${walls.map((w) => cellName(w, size)).join(', ')}. `;
  const slipText = config.slipProb > 0 ? 'Sometimes the agent slips and moves in a random direction. ' : '';
  return (
    `An agent is moving through a ${size} x ${size} grid in search of rewards. ` +
    `Cells are named by column, a to ${last} from left to right, and row, 1 to ${size} from top to bottom. ` +
    `At each step the agent goes ${up}, ${down}, ${left} or ${right}; a move off the grid${walls.length ? ' or into a wall' : ''} leaves it where it is. ` +
    wallText +
    slipText +
    `An episode ends when the agent reaches a rewarded cell or after ${config.maxSteps} steps; ` +
    `the next episode starts again at ${cellName(config.start, size)}. ` +
    `Each line shows where the agent was, which way it went and the reward it received.\n\n`
  );
}

/** The transcript of one experiment's episodes in a grid configured by `config`. */
export function gridTranscript(
  config: GridConfig,
  episodes: readonly GridEpisode[],
  options: Partial<GridPromptOptions> = {},
): Transcript<GridTranscriptMeta> {
  const o = gridPromptOptions(options);
  const shown = o.rewards === 'shuffled' ? shuffleGridRewards(episodes, o.shuffleSeed!) : episodes;
  const b = new TranscriptBuilder().text(gridInstruction(config, o.actionWords));
  shown.forEach((ep, e) => {
    b.text(`Episode ${e + 1}:\n`);
    ep.steps.forEach((s, t) => {
      b.text(`${cellName(s.cell, config.size)} `);
      b.answer(o.actionWords[s.action], o.actionWords, { episode: e, step: t, kind: 'prediction' });
      b.text(` ${formatNumber(s.reward)}\n`);
    });
  });
  return b.build('grid', { rewards: o.rewards, shuffleSeed: o.shuffleSeed, actionWords: [...o.actionWords] });
}
