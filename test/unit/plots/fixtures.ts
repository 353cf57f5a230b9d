import type { BlockCorrelationRow, ChartSpec, EffectRow, EpisodeSeries, LatentPoint, NllRow, ProbeCeiling, SparseProbePoint, SrCorrelationRow } from '../../../src/core/plots';
import {
  communityStructureChart,
  gridAccuracyChart,
  latentActivationChart,
  lesionEffectChart,
  maxCorrelationChart,
  nllByConditionChart,
  returnPerEpisodeChart,
  sparseProbeChart,
  srCorrelationChart,
} from '../../../src/core/plots';
import { Rng } from '../../../src/core/random';
import { columnEstimates } from '../../../src/core/stats';

/** Per-episode estimates over `experiments` simulated learning curves rising from `start` to `end`. */
export function learningCurve(rng: Rng, episodes: number, experiments: number, start: number, end: number, noise: number): EpisodeSeries['perEpisode'] {
  const rows = Array.from({ length: experiments }, () =>
    Array.from({ length: episodes }, (_, e) => start + (end - start) * (1 - Math.exp(-e / 6)) + noise * rng.normal()),
  );
  return columnEstimates(rows);
}

export const CONDITIONS = ['clean', 'full reconstruction', 'ablate top TD latents', 'ablate control latents'];

export function returnSeries(): EpisodeSeries[] {
  const rng = Rng.fromSeed(11);
  const ends = [0.75, 0.74, 0.6, 0.73];
  return CONDITIONS.map((condition, i) => ({ condition, perEpisode: learningCurve(rng, 30, 40, 0.5, ends[i], 0.3) }));
}

export function gridSeries(): EpisodeSeries[] {
  const rng = Rng.fromSeed(12);
  return [
    { condition: 'true rewards', perEpisode: learningCurve(rng, 20, 30, 0.3, 0.8, 0.15) },
    { condition: 'shuffled rewards', perEpisode: learningCurve(rng, 20, 30, 0.3, 0.45, 0.15) },
  ];
}

export const NLL_ROWS: NllRow[] = [
  { condition: 'clean', nll: 2720, ci95: [2680, 2760] },
  { condition: 'full reconstruction', nll: 2745, ci95: [2702, 2788] },
  { condition: 'ablate top TD latents', nll: 2930, ci95: [2885, 2975] },
  { condition: 'ablate control latents', nll: 2615, ci95: [2570, 2660] },
];

/** Max |r| per block rising to a peak mid-depth, the lesion flattening TD errors after the lesioned block. */
export function correlationRows(blocks: number): BlockCorrelationRow[] {
  const rng = Rng.fromSeed(13);
  const peak = (b: number, height: number) => height * Math.exp(-(((b - blocks / 2) / (blocks / 3)) ** 2));
  return ['clean', 'ablate top TD latents'].flatMap((condition) =>
    ['Q-values', 'TD errors'].flatMap((target) =>
      Array.from({ length: blocks }, (_, block) => {
        const lesioned = condition !== 'clean' && block > blocks / 2;
        const height = target === 'TD errors' ? (lesioned ? 0.1 : 0.58) : lesioned ? 0.4 : 0.6;
        return { condition, target, block, r: Math.abs(peak(block, height) + 0.05 * rng.normal()) };
      }),
    ),
  );
}

export function srRows(blocks: number): SrCorrelationRow[] {
  const rng = Rng.fromSeed(14);
  const heights: Record<string, number> = { 'SR entries': 0.62, 'SR TD errors': 0.6, 'transition matrix': 0.49, surprise: 0.18 };
  return Object.entries(heights).flatMap(([target, h]) =>
    Array.from({ length: blocks }, (_, block) => ({ block, target, r: Math.abs(h * Math.sin((Math.PI * (block + 1)) / (blocks + 1)) + 0.03 * rng.normal()) })),
  );
}

/** Three communities of five words; the "model" puts most mass on neighbours, more inside a community. */
export const NAMES = ['apple', 'anchor', 'basket', 'candle', 'drum', 'feather', 'guitar', 'hammer', 'kettle', 'ladder', 'mirror', 'needle', 'pillow', 'rocket', 'saddle'];
export const COMMUNITIES = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2];

export function nextNodeMatrix(): number[][] {
  const n = NAMES.length;
  return Array.from({ length: n }, (_, i) => {
    const w = Array.from({ length: n }, (_, j) => (i === j ? 0.05 : COMMUNITIES[i] === COMMUNITIES[j] ? 1 : 0.15));
    const total = w.reduce((a, b) => a + b, 0);
    return w.map((x) => x / total);
  });
}

export function latentPoints(count: number): LatentPoint[] {
  const rng = Rng.fromSeed(15);
  return Array.from({ length: count }, () => {
    const td = rng.normal();
    return { target: td, activation: Math.max(0, 0.8 * td + 0.5 * rng.normal()) };
  });
}

/** Lesion effects, one on each side of zero and one across it. */
export const EFFECT_ROWS: EffectRow[] = [
  { condition: 'TD lesion', value: -0.09, ci95: [-0.19, 0.01] },
  { condition: 'value lesion', value: 0.77, ci95: [0.47, 1.07] },
  { condition: 'detrended TD lesion', value: 0.3, ci95: [0.17, 0.44] },
  { condition: 'scrambled lesion', value: -0.4, ci95: [-0.6, -0.2] },
];

/** One chart of every kind, from the inputs above. */
/** A target one latent holds (Q difference) and one spread over many (TD error). */
export const SPARSE_POINTS: SparseProbePoint[] = [1, 2, 4, 8, 16, 32].flatMap((k, i) => [
  { target: 'Q difference', k, r: 0.68 + 0.03 * i },
  { target: 'TD error less its mean', k, r: 0.06 + 0.05 * i },
]);
export const SPARSE_CEILINGS: ProbeCeiling[] = [
  { target: 'Q difference', r: 0.9 },
  { target: 'TD error less its mean', r: 0.55 },
];

export function everyChart(): Record<string, ChartSpec> {
  return {
    returnPerEpisode: returnPerEpisodeChart(returnSeries(), { randomEpisodes: 7, chance: 0.5 }),
    nllByCondition: nllByConditionChart(NLL_ROWS, { subtitle: "Q-learning fitted to the model's choices" }),
    lesionEffect: lesionEffectChart(EFFECT_ROWS, { xTitle: 'Choice cost, lesion minus control (nats per experiment)' }),
    maxCorrelation: maxCorrelationChart(correlationRows(8), { smoothSigma: 0.5 }),
    gridAccuracy: gridAccuracyChart(gridSeries(), { chance: 0.25 }),
    srCorrelation: srCorrelationChart(srRows(8), { smoothSigma: 0.5 }),
    communityStructure: communityStructureChart(nextNodeMatrix(), NAMES, COMMUNITIES),
    latentActivation: latentActivationChart(latentPoints(300), { latent: 1234, block: 5, target: 'TD error', r: 0.58 }),
    sparseProbe: sparseProbeChart(SPARSE_POINTS, SPARSE_CEILINGS, { subtitle: 'First-stage choices, block 4' }),
  };
}
