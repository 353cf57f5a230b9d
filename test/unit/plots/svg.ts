/** Reading rendered Vega SVG in tests: the items of each data mark, and the text shown. */

/** Item elements (path, line, text) of every data mark of one type, one array per mark group. */
export function markGroups(svg: string, marktype: string): string[][] {
  const groups = [...svg.matchAll(new RegExp(`<g class="mark-${marktype} role-mark[^"]*"[^>]*>(.*?)</g>`, 'g'))];
  return groups.map((g) => [...g[1].matchAll(/<(path|line|text)\b[^>]*>/g)].map((m) => m[0]));
}

export function markItems(svg: string, marktype: string): string[] {
  return markGroups(svg, marktype).flat();
}

/** Every piece of text in the SVG (text elements and their tspans), entities decoded. */
export function svgTexts(svg: string): string[] {
  const decode = (s: string) => s.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#x27;|&#39;/g, "'");
  return [...svg.matchAll(/<(?:text|tspan)\b[^>]*>([^<]+)</g)].map((m) => decode(m[1]));
}

/** The x translation and the width of a rect item's path ("M0,0h94.1v260h-94.1Z"). */
export function rectGeometry(item: string): { x: number; y: number; width: number; height: number } {
  const translate = /transform="translate\(([-\d.e]+),([-\d.e]+)\)"/.exec(item);
  const d = /d="M([-\d.e]+),([-\d.e]+)h([-\d.e]+)v([-\d.e]+)h/.exec(item);
  if (d === null) throw new Error(`not a rect path: ${item}`);
  return {
    x: Number(d[1]) + (translate === null ? 0 : Number(translate[1])),
    y: Number(d[2]) + (translate === null ? 0 : Number(translate[2])),
    width: Number(d[3]),
    height: Number(d[4]),
  };
}
