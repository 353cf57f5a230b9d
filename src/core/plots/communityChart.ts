import { ChartInputError, checkDistinct, checkFinite, checkNonEmpty, topLevel, type ChartSpec, type Position } from './common';

export interface CommunityChartOptions {
  title?: string;
  /** What a cell holds; the colour legend's title. */
  valueTitle?: string;
}

/**
 * An n x n matrix over the graph's nodes as a heat map, rows the current node
 * and columns the next (e.g. the model's next-node distribution, or a learned
 * successor representation). Nodes are ordered by community, so a model that
 * learned the community structure shows bright diagonal blocks; rules mark the
 * boundaries between communities.
 */
export function communityStructureChart(
  matrix: readonly (readonly number[])[],
  names: readonly string[],
  communities: readonly number[],
  options: CommunityChartOptions = {},
): ChartSpec {
  const chart = 'communityStructureChart';
  const n = matrix.length;
  checkNonEmpty(chart, 'matrix', matrix, 'row');
  matrix.forEach((row, i) => {
    if (row.length !== n) throw new ChartInputError(chart, `matrix[${i}]`, `has ${row.length} columns; expected ${n} (a square matrix)`);
    row.forEach((v, j) => checkFinite(chart, `matrix[${i}][${j}]`, v));
  });
  if (names.length !== n) throw new ChartInputError(chart, 'names', `has ${names.length} names; expected one per node (${n})`);
  checkDistinct(chart, 'names', names);
  if (communities.length !== n) throw new ChartInputError(chart, 'communities', `has ${communities.length} entries; expected one per node (${n})`);
  communities.forEach((c, i) => {
    if (!Number.isInteger(c) || c < 0) throw new ChartInputError(chart, `communities[${i}]`, `is ${c}; expected an integer >= 0`);
  });

  // A stable sort: by community, then by node index within it.
  const order = names.map((_, i) => i).sort((a, b) => communities[a] - communities[b] || a - b);
  const sorted = order.map((i) => names[i]);
  const boundaries = order.filter((node, k) => k > 0 && communities[node] !== communities[order[k - 1]]).map((node) => ({ node: names[node] }));
  const values = order.flatMap((i) =>
    order.map((j) => ({ current: names[i], next: names[j], value: matrix[i][j], currentCommunity: communities[i], nextCommunity: communities[j] })),
  );
  const nonNegative = matrix.every((row) => row.every((v) => v >= 0));
  const valueTitle = options.valueTitle ?? 'P(next node | current node)';
  // The order is the scale's domain, not a sort: the boundary layers share the scale but not the data.
  const x: Position = { field: 'next', type: 'nominal', scale: { domain: sorted }, title: 'Next node', axis: { labelAngle: -90 } };
  const y: Position = { field: 'current', type: 'nominal', scale: { domain: sorted }, title: 'Current node' };
  const communityCount = new Set(communities).size;

  return {
    ...topLevel(options.title ?? 'Learned community structure', [
      `${n} nodes in ${communityCount} ${communityCount === 1 ? 'community' : 'communities'}, ordered by community; lines mark community boundaries`,
    ]),
    width: { step: 18 },
    height: { step: 18 },
    data: { values },
    layer: [
      {
        mark: { type: 'rect' },
        encoding: {
          x,
          y,
          color: { field: 'value', type: 'quantitative', title: valueTitle, scale: nonNegative ? { zero: true } : {} },
          tooltip: [
            { field: 'current', type: 'nominal', title: 'Current node' },
            { field: 'currentCommunity', type: 'ordinal', title: 'Its community' },
            { field: 'next', type: 'nominal', title: 'Next node' },
            { field: 'nextCommunity', type: 'ordinal', title: 'Its community' },
            { field: 'value', type: 'quantitative', title: valueTitle, format: '.3f' },
          ],
        },
      },
      { data: { values: boundaries }, mark: { type: 'rule', strokeWidth: 1.5 }, encoding: { x: { ...x, field: 'node', bandPosition: 0 } } },
      { data: { values: boundaries }, mark: { type: 'rule', strokeWidth: 1.5 }, encoding: { y: { ...y, field: 'node', bandPosition: 0 } } },
    ],
  };
}
