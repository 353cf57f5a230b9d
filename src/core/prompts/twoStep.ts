import { checkKnownKeys, ConfigError } from '../config';
import type { TwoStepEpisode } from '../envs/twoStep';
import { checkLabels, formatNumber, TranscriptBuilder, type AnswerSpan, type Transcript } from './transcript';

/**
 * The two-step task as the model plays it: spaceships are the first-stage
 * options, planets the second-stage states, aliens the second-stage options.
 *
 * Template (defaults shown):
 *
 *     You are going to visit planets in search of treasure. ... (the instruction)
 *
 *     Trip 1: You took spaceship A and arrived on planet X. You asked alien C and received 1 treasure.
 *     Trip 2: You took spaceship B and arrived on planet Y. You asked alien F and received 0 treasures.
 *
 * The spaceship and alien labels are the answers (kind 'choice'): step 0 is the
 * spaceship, step 1 the alien, allowed the two labels on offer.
 */
export interface TwoStepPromptOptions {
  /** Labels of first-stage options 0 and 1. */
  spaceships: [string, string];
  /** Labels of second-stage states 0 and 1. */
  planets: [string, string];
  /** Labels of the second-stage options, [planet][option]. */
  aliens: [[string, string], [string, string]];
}

export const TWO_STEP_PROMPT_DEFAULTS: TwoStepPromptOptions = {
  spaceships: ['A', 'B'],
  planets: ['X', 'Y'],
  aliens: [
    ['C', 'D'],
    ['E', 'F'],
  ],
};

export interface TwoStepTranscriptMeta {
  labels: TwoStepPromptOptions;
}

export function twoStepPromptOptions(partial: Partial<TwoStepPromptOptions> = {}): TwoStepPromptOptions {
  checkKnownKeys('twoStepPrompt', partial, Object.keys(TWO_STEP_PROMPT_DEFAULTS));
  const o = { ...TWO_STEP_PROMPT_DEFAULTS, ...partial };
  const pair = (field: string, v: unknown) => {
    if (!Array.isArray(v) || v.length !== 2) throw new ConfigError(field, v, 'an array of two labels');
  };
  pair('twoStepPrompt.spaceships', o.spaceships);
  pair('twoStepPrompt.planets', o.planets);
  pair('twoStepPrompt.aliens', o.aliens);
  o.aliens.forEach((row, p) => pair(`twoStepPrompt.aliens[${p}]`, row));
  checkLabels({
    'twoStepPrompt.spaceships[0]': o.spaceships[0],
    'twoStepPrompt.spaceships[1]': o.spaceships[1],
    'twoStepPrompt.planets[0]': o.planets[0],
    'twoStepPrompt.planets[1]': o.planets[1],
    'twoStepPrompt.aliens[0][0]': o.aliens[0][0],
    'twoStepPrompt.aliens[0][1]': o.aliens[0][1],
    'twoStepPrompt.aliens[1][0]': o.aliens[1][0],
    'twoStepPrompt.aliens[1][1]': o.aliens[1][1],
  });
  return {
    spaceships: [o.spaceships[0], o.spaceships[1]],
    planets: [o.planets[0], o.planets[1]],
    aliens: [
      [o.aliens[0][0], o.aliens[0][1]],
      [o.aliens[1][0], o.aliens[1][1]],
    ],
  };
}

/** The instruction that opens every two-step transcript, followed by a blank line. */
export function twoStepInstruction(o: TwoStepPromptOptions): string {
  const [a, b] = o.spaceships;
  const [x, y] = o.planets;
  return (
    `You are going to visit planets in search of treasure. ` +
    `Each trip you first choose a spaceship, ${a} or ${b}; each spaceship flies to one planet more often than to the other. ` +
    `On the planet you choose an alien to ask for treasure: alien ${o.aliens[0][0]} or ${o.aliens[0][1]} on planet ${x}, ` +
    `alien ${o.aliens[1][0]} or ${o.aliens[1][1]} on planet ${y}. ` +
    `Each alien gives treasure with a chance that changes slowly over time. Try to collect as much treasure as you can.\n\n`
  );
}

/** The text between a trip's alien label and the treasure it received. */
const REWARD_LEAD = ' and received ';

/** What is known of a trip: possibly only its first choice (the model is about to choose an alien). */
type TripSoFar = Pick<TwoStepEpisode, 'firstAction' | 'secondState'> & Partial<Pick<TwoStepEpisode, 'secondAction' | 'reward'>>;

/**
 * Writes trip `index` up to the first choice not yet made (its answer position),
 * or whole when `trip` is complete. Both the full transcript and the prompts of
 * the interactive loop go through here, so a prompt is always the transcript's prefix.
 */
function writeTrip(b: TranscriptBuilder, o: TwoStepPromptOptions, index: number, trip: TripSoFar | null): void {
  b.text(`Trip ${index + 1}: You took spaceship `);
  if (trip === null) return;
  b.answer(o.spaceships[trip.firstAction], o.spaceships, { episode: index, step: 0, kind: 'choice' });
  b.text(` and arrived on planet ${o.planets[trip.secondState]}. You asked alien `);
  if (trip.secondAction === undefined || trip.reward === undefined) return;
  b.answer(o.aliens[trip.secondState][trip.secondAction], o.aliens[trip.secondState], { episode: index, step: 1, kind: 'choice' });
  b.text(`${REWARD_LEAD}${formatNumber(trip.reward)} ${trip.reward === 1 ? 'treasure' : 'treasures'}.\n`);
}

/**
 * Character offset of the treasure count each trip shows, in a transcript or
 * prompt written by this module: where the model reads the trip's reward (and
 * so its reward prediction error). `spans` are the text's answers; a trip whose
 * alien has not been chosen yet shows no treasure and has no entry.
 */
export function twoStepRewardOffsets(spans: readonly Pick<AnswerSpan, 'end' | 'step'>[]): number[] {
  return spans.filter((s) => s.step === 1).map((s) => s.end + REWARD_LEAD.length);
}

function writeTrips(episodes: readonly TwoStepEpisode[], o: TwoStepPromptOptions): TranscriptBuilder {
  const b = new TranscriptBuilder().text(twoStepInstruction(o));
  episodes.forEach((ep, i) => writeTrip(b, o, i, ep));
  return b;
}

/** The whole transcript of a played experiment. */
export function twoStepTranscript(
  episodes: readonly TwoStepEpisode[],
  options: Partial<TwoStepPromptOptions> = {},
): Transcript<TwoStepTranscriptMeta> {
  const o = twoStepPromptOptions(options);
  return writeTrips(episodes, o).build('two-step', { labels: o });
}

/** The text the model reads at a decision, and the labels it chooses between. */
export interface DecisionPrompt {
  prefix: string;
  /** Labels in action order: the index of the chosen label is the action. */
  allowed: string[];
  episode: number;
  step: number;
  /**
   * At a spaceship choice after the first trip, the character offset in `prefix`
   * of the previous trip's treasure count: the newest reward the model has read
   * (see {@link twoStepRewardOffsets}). null at the first trip and at alien choices,
   * whose newest outcome is the planet landed on.
   */
  rewardAt: number | null;
}

/**
 * The prompt for the next decision of an experiment in progress: after the
 * completed `episodes`, the spaceship choice of the next trip, or, when
 * `pending` holds that trip's first choice and the planet it led to, the alien
 * choice. The prefix equals the finished transcript's text up to that answer.
 */
export function twoStepPrompt(
  episodes: readonly TwoStepEpisode[],
  pending: { firstAction: number; secondState: number } | null,
  options: Partial<TwoStepPromptOptions> = {},
): DecisionPrompt {
  const o = twoStepPromptOptions(options);
  const b = writeTrips(episodes, o);
  writeTrip(b, o, episodes.length, pending);
  const rewards = twoStepRewardOffsets(b.build('two-step', null).spans);
  return {
    prefix: b.written,
    allowed: pending === null ? [...o.spaceships] : [...o.aliens[pending.secondState]],
    episode: episodes.length,
    step: pending === null ? 0 : 1,
    rewardAt: pending === null && rewards.length > 0 ? rewards[rewards.length - 1] : null,
  };
}
