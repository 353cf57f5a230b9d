import * as vega from 'vega';
import type { ChartSpec } from '../../../src/core/plots';
import { compileSpec } from '../../../src/core/plots';

export interface TextBox {
  text: string;
  role: string;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

interface SceneItem {
  x?: number;
  y?: number;
  text?: unknown;
  opacity?: number;
  bounds: { x1: number; y1: number; x2: number; y2: number };
  items?: SceneMark[];
}

interface SceneMark {
  marktype: string;
  role: string;
  items: SceneItem[];
}

/**
 * Every visible text item of the rendered chart with its box in chart
 * coordinates, as Vega lays it out headless (text widths estimated, not measured).
 */
export async function textBoxes(spec: ChartSpec): Promise<TextBox[]> {
  const view = new vega.View(vega.parse(compileSpec(spec)), { renderer: 'none' });
  await view.runAsync();
  const boxes: TextBox[] = [];
  const visit = (mark: SceneMark, dx: number, dy: number) => {
    for (const item of mark.items) {
      if (mark.marktype === 'text') {
        const text = Array.isArray(item.text) ? item.text.join(' ') : String(item.text ?? '');
        if (text !== '' && item.opacity !== 0) {
          const b = item.bounds;
          boxes.push({ text, role: mark.role, x1: b.x1 + dx, y1: b.y1 + dy, x2: b.x2 + dx, y2: b.y2 + dy });
        }
      }
      if (mark.marktype === 'group') {
        for (const child of item.items ?? []) visit(child, dx + (item.x ?? 0), dy + (item.y ?? 0));
      }
    }
  };
  visit((view.scenegraph() as unknown as { root: SceneMark }).root, 0, 0);
  view.finalize();
  return boxes;
}

/** Pairs of text boxes that overlap by more than `tolerance` pixels in both directions. */
export function overlappingText(boxes: readonly TextBox[], tolerance = 1): [TextBox, TextBox][] {
  const pairs: [TextBox, TextBox][] = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i];
      const b = boxes[j];
      const w = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
      const h = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
      if (w > tolerance && h > tolerance) pairs.push([a, b]);
    }
  }
  return pairs;
}
