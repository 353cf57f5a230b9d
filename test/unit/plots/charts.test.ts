import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChartSpec } from '../../../src/core/plots';
import {
  ChartInputError,
  communityStructureChart,
  gaussianSmooth,
  gridAccuracyChart,
  latentActivationChart,
  lesionEffectChart,
  maxCorrelationChart,
  nllByConditionChart,
  renderSvg,
  returnPerEpisodeChart,
  schemaErrors,
  sparseProbeChart,
  srCorrelationChart,
  themeConfig,
  validateSpec,
  VEGA_LITE_SCHEMA,
} from '../../../src/core/plots';
import type { Estimate } from '../../../src/core/stats';
import { COMMUNITIES, CONDITIONS, correlationRows, EFFECT_ROWS, SPARSE_CEILINGS, SPARSE_POINTS, everyChart, gridSeries, latentPoints, NAMES, nextNodeMatrix, NLL_ROWS, returnSeries, srRows } from './fixtures';
import { overlappingText, textBoxes } from './layout';
import { markGroups, markItems, rectGeometry, svgTexts } from './svg';

/** Renders a chart, failing on any Vega-Lite or Vega warning. */
async function render(spec: ChartSpec): Promise<string> {
  const warnings: string[] = [];
  const svg = await renderSvg(spec, { onWarning: (m) => warnings.push(m) });
  assert.deepEqual(warnings, []);
  return svg;
}

function dataValues(spec: ChartSpec): Record<string, unknown>[] {
  const data = (spec as { data?: { values?: Record<string, unknown>[] } }).data;
  assert.ok(data?.values !== undefined, 'the chart carries its data inline');
  return data.values;
}

function svgSize(svg: string): { width: number; height: number } {
  const m = /^<svg[^>]* width="(\d+)" height="(\d+)"/.exec(svg);
  assert.ok(m !== null);
  return { width: Number(m[1]), height: Number(m[2]) };
}

test('every chart is JSON, valid Vega-Lite v5, renders without warnings, and its text neither overlaps nor leaves the canvas', async () => {
  for (const [name, spec] of Object.entries(everyChart())) {
    assert.equal(spec.$schema, VEGA_LITE_SCHEMA, name);
    assert.deepEqual(JSON.parse(JSON.stringify(spec)), spec, `${name} survives a JSON round trip`);
    assert.deepEqual(schemaErrors(spec), [], name);
    const svg = await render(spec);
    assert.match(svg, /^<svg /, name);
    const title = (spec.title as { text: string }).text;
    assert.ok(svgTexts(svg).includes(title), `${name} shows its title '${title}'`);
    assert.deepEqual(svgTexts(svg).filter((t) => t.includes('\u2026')), [], `${name}: no text is truncated`);

    const boxes = await textBoxes(spec);
    const overlaps = overlappingText(boxes).map(([a, b]) => `'${a.text}' (${a.role}) and '${b.text}' (${b.role})`);
    assert.deepEqual(overlaps, [], `${name}: overlapping text`);
    // Boxes are relative to the plot's origin; the SVG adds the origin (within the padding) around it.
    const { width, height } = svgSize(svg);
    const [ox, oy] = /transform="translate\(([\d.]+),([\d.]+)\)"/.exec(svg)!.slice(1).map(Number);
    for (const b of boxes) {
      assert.ok(b.x1 + ox >= 0 && b.x2 + ox <= width && b.y1 + oy >= 0 && b.y2 + oy <= height, `${name}: '${b.text}' is cut off`);
    }
  }
});

test('return per episode: a line and a band per condition from the estimates, the random opening shaded, chance marked', async () => {
  const series = returnSeries();
  const spec = returnPerEpisodeChart(series, { randomEpisodes: 7, chance: 0.5 });
  const rows = dataValues(spec);
  assert.equal(rows.length, CONDITIONS.length * 30);
  const row = rows.find((r) => r.condition === 'ablate top TD latents' && r.episode === 12)!;
  const e: Estimate = series[2].perEpisode[11];
  assert.deepEqual(row, { condition: 'ablate top TD latents', episode: 12, mean: e.mean, lo: e.ci95[0], hi: e.ci95[1], n: 40 });

  const svg = await render(spec);
  assert.deepEqual(markGroups(svg, 'line').map((g) => g.length), [1, 1, 1, 1]);
  assert.equal(markItems(svg, 'area').length, 4);
  const texts = svgTexts(svg);
  for (const c of CONDITIONS) assert.ok(texts.includes(c), `legend names '${c}'`);
  assert.ok(texts.includes('Episode') && texts.includes('Return (reward per episode)') && texts.includes('chance 0.5'));
  assert.ok(texts.some((t) => t.includes('Mean over 40 experiments')) && texts.some((t) => t.includes('episodes 1\u20137')));
  // Episodes 1 to 30 span the 420-pixel width, so the shading (episodes 1 to 7.5) is 6.5 / 29 of it.
  const [shade] = markItems(svg, 'rect').map(rectGeometry);
  assert.ok(Math.abs(shade.x) < 1e-9 && Math.abs(shade.width - (420 * 6.5) / 29) < 1e-6, JSON.stringify(shade));
  assert.equal(markItems(svg, 'rule').length, 1);

  const single = await render(returnPerEpisodeChart(series.slice(0, 1)));
  assert.equal(markItems(single, 'line').length, 1);
  assert.ok(!svgTexts(single).includes('Condition'), 'one series needs no legend');
  assert.equal(markItems(single, 'rect').length, 0);

  // Past the theme's ten colours, many conditions still get a colour each.
  const many = [0, 1, 2].flatMap((k) => series.map((s) => ({ ...s, condition: `${s.condition} ${k}` })));
  const manySvg = await render(returnPerEpisodeChart(many));
  const strokes = markItems(manySvg, 'line').map((l) => /stroke="([^"]+)"/.exec(l)?.[1]);
  assert.equal(strokes.length, 12);
  assert.equal(new Set(strokes).size, 12, strokes.join(' '));
  const bars = await render(nllByConditionChart(many.map((s, i) => ({ condition: s.condition, nll: 2000 + i, ci95: [1990 + i, 2010 + i] as [number, number] }))));
  assert.equal(new Set(markGroups(bars, 'rect')[0].map((r) => /fill="([^"]+)"/.exec(r)?.[1])).size, 12, 'a colour per bar');
});

test('NLL by condition: one bar per condition in order, lengths proportional to the NLL, 95% error bars', async () => {
  const spec = nllByConditionChart(NLL_ROWS);
  assert.deepEqual(dataValues(spec), NLL_ROWS.map((r) => ({ condition: r.condition, nll: r.nll, lo: r.ci95![0], hi: r.ci95![1] })));
  const svg = await render(spec);
  const bars = markGroups(svg, 'rect')[0].map(rectGeometry);
  assert.equal(bars.length, 4);
  bars.forEach((b, i) => assert.ok(Math.abs(b.width / bars[0].width - NLL_ROWS[i].nll / NLL_ROWS[0].nll) < 1e-9, `bar ${i}`));
  assert.ok(bars.every((b, i) => i === 0 || b.y > bars[i - 1].y), 'bars top to bottom in the given order');
  assert.equal(markItems(svg, 'rule').length, 4);
  assert.ok(svgTexts(svg).includes('NLL of the choices (nats)') && svgTexts(svg).some((t) => t.includes('Error bars: 95%')));

  const plain = await render(nllByConditionChart(NLL_ROWS.map(({ condition, nll }) => ({ condition, nll }))));
  assert.equal(markItems(plain, 'rect').length, 4);
  assert.equal(markItems(plain, 'rule').length, 0);
});

test('lesion effects: a point per condition in order, at its value on the same axis as its interval, and a rule at zero', async () => {
  const spec = lesionEffectChart(EFFECT_ROWS);
  assert.deepEqual(dataValues(spec), EFFECT_ROWS.map((r) => ({ condition: r.condition, value: r.value, lo: r.ci95[0], hi: r.ci95[1] })));
  const svg = await render(spec);
  const at = (item: string) => /transform="translate\(([-\d.e]+),([-\d.e]+)\)"/.exec(item)!.slice(1).map(Number);
  const points = markItems(svg, 'symbol').map(at);
  assert.equal(points.length, EFFECT_ROWS.length);
  assert.ok(points.every((p, i) => i === 0 || p[1] > points[i - 1][1]), 'points top to bottom in the given order');
  // x is linear in the value: the zero rule sits where the line through two points says 0 is.
  const [a, b] = [0, 1].map((i) => ({ v: EFFECT_ROWS[i].value, x: points[i][0] }));
  const xOf = (v: number) => a.x + ((v - a.v) * (b.x - a.x)) / (b.v - a.v);
  points.forEach((p, i) => assert.ok(Math.abs(p[0] - xOf(EFFECT_ROWS[i].value)) < 0.05, `point ${i}`));
  const zero = markGroups(svg, 'rule')[0].map((l) => at(l)[0]);
  assert.equal(zero.length, 1);
  assert.ok(Math.abs(zero[0] - xOf(0)) < 0.05, `the zero rule at ${zero[0]}, expected ${xOf(0)}`);
  assert.ok(svgTexts(svg).some((t) => t.includes('Paired by experiment')));
  assert.throws(() => lesionEffectChart([{ condition: 'a', value: 1, ci95: [2, 0] }]), /rows\[0\]\.ci95 is \[2, 0\]; expected lower <= upper/);
});

test('max correlation per block: a panel per target, a line per condition, smoothed as stated', async () => {
  const rows = correlationRows(8);
  const shuffled = [...rows].reverse();
  const spec = maxCorrelationChart(shuffled, { smoothSigma: 0.5 });
  const values = dataValues(spec);
  const curve = (condition: string, target: string) => rows.filter((r) => r.condition === condition && r.target === target);
  for (const [condition, target] of [['clean', 'TD errors'], ['ablate top TD latents', 'Q-values']]) {
    const raw = curve(condition, target).map((r) => r.r);
    const shown = values.filter((v) => v.condition === condition && v.target === target);
    assert.deepEqual(shown.map((v) => v.block), [0, 1, 2, 3, 4, 5, 6, 7], 'blocks in order whatever the input order');
    assert.deepEqual(shown.map((v) => v.raw), raw);
    assert.deepEqual(shown.map((v) => v.r), gaussianSmooth(raw, 0.5));
  }
  const svg = await render(spec);
  assert.equal(markGroups(svg, 'line').length, 4);
  assert.equal(markItems(svg, 'symbol').length, 32);
  const texts = svgTexts(svg);
  assert.ok(['Q-values', 'TD errors', 'clean', 'ablate top TD latents', 'Transformer block'].every((t) => texts.includes(t)));
  assert.ok(texts.some((t) => t.includes('Gaussian (\u03c3 = 0.5 blocks)')));

  const unsmoothed = maxCorrelationChart(rows);
  assert.deepEqual(dataValues(unsmoothed).map((v) => v.r), dataValues(unsmoothed).map((v) => v.raw));
  assert.ok(JSON.stringify(unsmoothed.title).includes('not smoothed'));
  // A 70B model's 80 blocks are drawn as lines only.
  assert.equal(markItems(await render(maxCorrelationChart(correlationRows(40))), 'symbol').length, 0);
});

test('grid accuracy: true against shuffled rewards in percent, with chance', async () => {
  const series = gridSeries();
  const spec = gridAccuracyChart(series, { chance: 0.25 });
  assert.equal(dataValues(spec).length, 40);
  const svg = await render(spec);
  assert.equal(markGroups(svg, 'line').length, 2);
  assert.equal(markItems(svg, 'area').length, 2);
  const texts = svgTexts(svg);
  assert.ok(['true rewards', 'shuffled rewards', 'chance 25%', 'Accuracy (% correct)', '100%', '0%'].every((t) => texts.includes(t)), texts.join('|'));
});

test('SR correlations: a line per target, and line styles once conditions are compared', async () => {
  const rows = srRows(8);
  const svg = await render(srCorrelationChart(rows));
  assert.equal(markGroups(svg, 'line').length, 4);
  assert.ok(['SR entries', 'SR TD errors', 'transition matrix', 'surprise'].every((t) => svgTexts(svg).includes(t)));

  const compared = [...rows.map((r) => ({ ...r, condition: 'clean' })), ...rows.map((r) => ({ ...r, r: r.r / 2, condition: 'lesioned' }))];
  const both = await render(srCorrelationChart(compared, { smoothSigma: 0.5 }));
  assert.equal(markGroups(both, 'line').length, 8);
  assert.ok(svgTexts(both).includes('lesioned'));
  assert.ok(markItems(both, 'line').some((l) => l.includes('stroke-dasharray')));
  // The conditions' legend shows each as a stroked line, one of them dashed, not as the same dot twice.
  const dashSymbols = [...both.matchAll(/<g class="mark-symbol role-legend-symbol"[^>]*><path [^>]*>/g)].map((m) => m[0]).filter((p) => p.includes('d="M-'));
  assert.equal(dashSymbols.length, 2, 'one line symbol per condition');
  assert.ok(dashSymbols.every((p) => /stroke="#/.test(p)));
  assert.deepEqual(dashSymbols.map((p) => /stroke-dasharray="([^"]*)"/.exec(p)?.[1]), ['1,0', '4,2'], 'solid, then dashed');
});

test('community structure: an n x n heat map ordered by community, boundaries between communities', async () => {
  // Interleave the nodes so that only the chart's ordering groups the communities.
  const perm = [0, 5, 10, 1, 6, 11, 2, 7, 12, 3, 8, 13, 4, 9, 14];
  const matrix = nextNodeMatrix();
  const spec = communityStructureChart(
    perm.map((i) => perm.map((j) => matrix[i][j])),
    perm.map((i) => NAMES[i]),
    perm.map((i) => COMMUNITIES[i]),
  );
  const values = dataValues(spec);
  assert.equal(values.length, 225);
  assert.deepEqual(values.slice(0, 15).map((v) => v.next), NAMES);
  assert.deepEqual(values.filter((v) => v.next === 'apple').map((v) => v.current), NAMES);
  const cell = values.find((v) => v.current === 'drum' && v.next === 'hammer')!;
  assert.equal(cell.value, matrix[4][7]);

  const svg = await render(spec);
  const cells = markItems(svg, 'rect').map(rectGeometry);
  assert.equal(cells.length, 225);
  assert.ok(cells.every((c) => c.width === 18 && c.height === 18));
  const rules = markItems(svg, 'rule');
  assert.equal(rules.length, 4);
  // Communities of five 18-pixel cells: boundaries at 90 and 180 pixels, down and across.
  assert.deepEqual(rules.map((r) => /translate\(([\d.]+),([\d.]+)\)/.exec(r)!.slice(1).map(Number)), [[90, 0], [180, 0], [270, 90], [270, 180]]);
  const texts = svgTexts(svg);
  assert.ok(NAMES.every((n) => texts.includes(n)) && texts.includes('P(next node | current node)') && texts.includes('Next node'));
});

test('latent activation: a point per position, the least-squares line, r in the title, many points thinned', async () => {
  const points = latentPoints(300);
  const spec = latentActivationChart(points, { latent: 1234, block: 5, target: 'TD error', r: 0.58 });
  const svg = await render(spec);
  assert.equal(markItems(svg, 'symbol').length, 300);
  assert.equal(markItems(svg, 'line').length, 1);
  assert.ok(svgTexts(svg).includes('Latent 1234 (block 5) against TD error: r = 0.58'));

  const many = Array.from({ length: 5000 }, (_, i) => ({ target: i / 1000, activation: 3 - 2 * (i / 1000) }));
  const thinned = latentActivationChart(many, { latent: 7, block: 0, target: 'Q-value', r: -1 });
  const layers = (thinned as { layer: { data: { values: { target: number; activation: number }[] } }[] }).layer;
  assert.equal(layers[0].data.values.length, 2000);
  assert.deepEqual(layers[0].data.values[1], many[2]);
  assert.deepEqual(layers[1].data.values.map((p) => p.target), [0, 4.999]);
  for (const p of layers[1].data.values) assert.ok(Math.abs(p.activation - (3 - 2 * p.target)) < 1e-9, 'the line is the exact fit');
  assert.ok(JSON.stringify(thinned.title).includes('2000 of 5000 points'));
});

test('bad input is refused with the chart, the field and what was expected', () => {
  const cases: [() => unknown, RegExp][] = [
    [() => returnPerEpisodeChart([]), /^returnPerEpisodeChart: series is empty; expected at least one series$/],
    [() => returnPerEpisodeChart([{ condition: 'clean', perEpisode: [] }]), /series\[0\]\.perEpisode is empty/],
    [
      () => returnPerEpisodeChart([{ condition: 'clean', perEpisode: [{ mean: 1, ci95: [0, 2], n: 3 }, { mean: NaN, ci95: [0, 2], n: 3 }] }]),
      /returnPerEpisodeChart: series\[0\]\.perEpisode\[1\]\.mean is NaN; expected a finite number/,
    ],
    [() => returnPerEpisodeChart(returnSeries(), { randomEpisodes: 31 }), /options\.randomEpisodes is 31; expected an integer in \[0, 30\]/],
    [() => gridAccuracyChart([...gridSeries(), gridSeries()[0]]), /accuracyPerEpisodeChart: series\[\]\.condition repeats 'true rewards'/],
    [() => nllByConditionChart([{ condition: 'clean', nll: Infinity }]), /nllByConditionChart: rows\[0\]\.nll is Infinity/],
    [() => nllByConditionChart([{ condition: 'clean', nll: 1, ci95: [2, 1] }]), /rows\[0\]\.ci95 is \[2, 1\]; expected lower <= upper/],
    [() => maxCorrelationChart([]), /maxCorrelationChart: rows is empty/],
    [() => maxCorrelationChart([{ condition: 'c', target: 't', block: 0, r: NaN }]), /rows\[0\]\.r is NaN/],
    [() => maxCorrelationChart([...correlationRows(2), correlationRows(2)[1]]), /rows\[8\] repeats block 1 of target 'Q-values' under 'clean'/],
    [() => maxCorrelationChart(correlationRows(2), { smoothSigma: -1 }), /options\.smoothSigma is -1/],
    [() => srCorrelationChart([{ block: 1.5, target: 'SR entries', r: 0.1 }]), /srCorrelationChart: rows\[0\]\.block is 1\.5/],
    [() => communityStructureChart([[1, 0], [0]], ['a', 'b'], [0, 1]), /communityStructureChart: matrix\[1\] has 1 columns; expected 2/],
    [() => communityStructureChart([[1, 0], [0, NaN]], ['a', 'b'], [0, 1]), /matrix\[1\]\[1\] is NaN/],
    [() => communityStructureChart([[1, 0], [0, 1]], ['a'], [0, 1]), /names has 1 names; expected one per node \(2\)/],
    [() => communityStructureChart([[1, 0], [0, 1]], ['a', 'b'], [0, -1]), /communities\[1\] is -1/],
    [() => latentActivationChart([], { latent: 1, block: 1, target: 'TD error', r: 0.5 }), /latentActivationChart: points is empty/],
    [() => latentActivationChart([{ activation: NaN, target: 0 }], { latent: 1, block: 1, target: 'TD error', r: 0.5 }), /points\[0\]\.activation is NaN/],
  ];
  for (const [build, message] of cases) {
    assert.throws(build, (e: unknown) => e instanceof ChartInputError && message.test(e.message), String(message));
  }
});

test('validateSpec names the chart and the most specific schema error', () => {
  const spec = returnPerEpisodeChart(returnSeries());
  assert.doesNotThrow(() => validateSpec(spec));
  const { layer, ...unit } = spec as { layer: { encoding: unknown }[] };
  const badMark = { ...unit, mark: 'lin', encoding: layer[1].encoding } as unknown as ChartSpec;
  assert.throws(() => validateSpec(badMark), /^Error: chart 'Return per episode' is not valid Vega-Lite: \/mark must be one of .*"line"/);
  const badType = { ...nllByConditionChart(NLL_ROWS), layer: [{ mark: 'bar', encoding: { x: { field: 'nll', type: 'quant' } } }] } as unknown as ChartSpec;
  assert.throws(() => validateSpec(badType, 'nll'), /^Error: chart 'nll' is not valid Vega-Lite: \/layer\/0\/encoding\/x\/type must be one of .*"quantitative"/);
  assert.deepEqual(schemaErrors({ ...spec, width: 'wide' })[0].path, '/width');
});

test('a dark host swaps in the dark theme; a standalone SVG gets the background asked for', async () => {
  const spec = returnPerEpisodeChart(returnSeries(), { chance: 0.5 });
  const light = await render(spec);
  assert.match(light, /^<svg[^>]*><rect width="\d+" height="\d+" fill="white"\/>/);
  assert.ok(light.includes('fill="#333333"') && !light.includes('#d4d4d4'));

  const darkSpec = { ...spec, config: themeConfig(true) };
  assert.deepEqual(schemaErrors(darkSpec), []);
  const dark = await render(darkSpec);
  assert.ok(dark.includes('fill="#d4d4d4"') && !dark.includes('fill="#333333"'), 'text in the dark theme\'s colour');
  for (const [name, chart] of Object.entries(everyChart())) {
    const svg = await render({ ...chart, config: themeConfig(true) });
    assert.deepEqual(svg.match(/(?:fill|stroke)="(?:#000|#000000|black|#333333)"/g), null, `${name}: nothing drawn in the light theme's dark ink`);
  }
  assert.match(await renderSvg(darkSpec, { background: '#1e1e1e' }), /^<svg[^>]*><rect width="\d+" height="\d+" fill="#1e1e1e"\/>/);
  assert.equal(themeConfig(false).background, 'transparent', 'the spec itself leaves the background to its host');
});

test('renderSvg rejects with the error Vega met', async () => {
  const spec = {
    $schema: VEGA_LITE_SCHEMA,
    data: { values: [{ a: 1 }] },
    transform: [{ calculate: 'datum.b.c', as: 'x' }],
    mark: 'point',
    encoding: { x: { field: 'x', type: 'quantitative' } },
  } as ChartSpec;
  await assert.rejects(renderSvg(spec), /Cannot read properties of undefined \(reading 'c'\)/);
});

test('latents needed: a line per target on a log scale of k, and a dashed rule at each target\'s probe of the whole residual', async () => {
  const spec = sparseProbeChart(SPARSE_POINTS, SPARSE_CEILINGS);
  assert.deepEqual(dataValues(spec), SPARSE_POINTS);
  const svg = await render(spec);
  const at = (item: string) => /transform="translate\(([-\d.e]+),([-\d.e]+)\)"/.exec(item)!.slice(1).map(Number);
  const points = markItems(svg, 'symbol').map(at);
  assert.equal(points.length, SPARSE_POINTS.length);
  // Log scale: each doubling of k moves the same distance along x.
  const xs = [...new Set(points.map((p) => Math.round(p[0] * 100) / 100))].sort((a, b) => a - b);
  assert.equal(xs.length, 6);
  xs.slice(2).forEach((x, i) => assert.ok(Math.abs(x - xs[i + 1] - (xs[1] - xs[0])) < 0.05, `step ${i + 1}`));
  // y is linear in r from 0 to 1: the rules sit where the points' line puts the ceilings.
  const [a, b] = [0, 1].map((i) => ({ r: SPARSE_POINTS[i].r, y: points[i][1] }));
  const yOf = (r: number) => a.y + ((r - a.r) * (b.y - a.y)) / (b.r - a.r);
  const rules = markGroups(svg, 'rule')[0].map((l) => at(l)[1]).sort((p, q) => p - q);
  assert.deepEqual(rules.map((y) => Math.round(y * 10) / 10), SPARSE_CEILINGS.map((c) => Math.round(yOf(c.r) * 10) / 10).sort((p, q) => p - q));
  assert.throws(() => sparseProbeChart([{ target: 't', k: 0, r: 0.1 }], []), /points\[0\]\.k is 0; expected at least 1/);
});
