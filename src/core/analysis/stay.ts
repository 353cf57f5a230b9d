import type { TwoStepEpisode } from '../envs/twoStep';
import { estimate, type Estimate } from '../stats';

/**
 * How often a two-step player repeats its last choice, split by what followed
 * that choice (after Daw et al. 2011): the first thing a reader of a two-step
 * study looks at, and a check on a fitted model that needs no fitting.
 *
 * - Spaceship: repeating the previous trip's spaceship, by that trip's reward and
 *   whether its transition was common or rare. A model-free learner stays more
 *   after treasure whatever the transition; a model-based one stays after
 *   treasure on a common transition and switches after treasure on a rare one.
 * - Alien: asking again the alien last asked on this planet, by the treasure it
 *   gave then. Stay after treasure minus stay after none is how much a reward moves
 *   the choice; their mean, how sticky the player is.
 *
 * Each figure is the fraction of such choices, with a 95% interval over the
 * choices (trips of one experiment are taken as independent).
 */
export interface StayProbabilities {
  spaceship: { rewarded: { common: Estimate; rare: Estimate }; unrewarded: { common: Estimate; rare: Estimate } };
  alien: { rewarded: Estimate; unrewarded: Estimate };
}

/** Stay probabilities over the trips from `fromEpisode` on (e.g. after a random opening), pooled over experiments. */
export function stayProbabilities(experiments: readonly { episodes: readonly TwoStepEpisode[] }[], fromEpisode = 0): StayProbabilities {
  const cells = new Map<string, number[]>();
  const add = (key: string, stayed: boolean) => {
    const list = cells.get(key) ?? [];
    list.push(stayed ? 1 : 0);
    cells.set(key, list);
  };
  for (const { episodes } of experiments) {
    // The alien last asked on each planet and the treasure it gave.
    const last = new Map<number, { alien: number; reward: number }>();
    episodes.forEach((trip, t) => {
      if (t >= fromEpisode && t > 0) {
        const before = episodes[t - 1];
        add(`spaceship ${before.reward > 0} ${before.common}`, trip.firstAction === before.firstAction);
        const previous = last.get(trip.secondState);
        if (previous !== undefined) add(`alien ${previous.reward > 0}`, trip.secondAction === previous.alien);
      }
      last.set(trip.secondState, { alien: trip.secondAction, reward: trip.reward });
    });
  }
  const cell = (key: string) => estimate(cells.get(key) ?? []);
  return {
    spaceship: {
      rewarded: { common: cell('spaceship true true'), rare: cell('spaceship true false') },
      unrewarded: { common: cell('spaceship false true'), rare: cell('spaceship false false') },
    },
    alien: { rewarded: cell('alien true'), unrewarded: cell('alien false') },
  };
}
