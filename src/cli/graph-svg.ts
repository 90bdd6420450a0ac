/**
 * A graph drawn as inline SVG, with no library: the HTML report's drawing
 * when Mermaid is not installed (and its fallback if Mermaid fails).
 *
 * Layout is layered, left to right: a node's column is the length of the
 * longest path reaching it, so every edge points rightwards; within a
 * column nodes are ordered once by the mean row of their predecessors
 * (one barycentre pass), which untangles the common fan-out / fan-in
 * shapes. Edges are cubic curves from a node's right side to the next
 * node's left side. Sizes are estimated from the label length (no font
 * metrics in Node), generously, and long labels are cut with their full
 * text kept in a tooltip.
 *
 * @module
 */
import { STATUS_STYLE, type GraphView } from "./graph-format.js";
import { escapeHtml } from "./html.js";
import { truncate } from "../core/text.js";

const NODE_H = 34;
const ROW_GAP = 16;
const COL_GAP = 56;
const PAD = 16;
const CHAR_W = 7.4;
const MAX_LABEL = 40;

interface Placed {
  readonly id: string;
  readonly label: string;
  readonly x: number;
  readonly y: number;
  readonly w: number;
}

/** Column of each node: 0 for sources, else 1 + the highest column among its predecessors (routes back to an earlier node do not count). */
function columns(view: GraphView): Map<string, number> {
  const preds = new Map<string, string[]>(view.nodes.map((n) => [n.id, []]));
  for (const e of view.edges) if (!e.back) preds.get(e.to)?.push(e.from);
  const col = new Map<string, number>();
  const visit = (id: string, depth: number): number => {
    const known = col.get(id);
    if (known !== undefined) return known;
    if (depth > view.nodes.length) return 0; // a cycle cannot come from a valid graph; stay finite anyway
    const c = Math.max(-1, ...(preds.get(id) ?? []).map((p) => visit(p, depth + 1))) + 1;
    col.set(id, c);
    return c;
  };
  for (const n of view.nodes) visit(n.id, 0);
  return col;
}

/** Places every node; returns the placements and the drawing's size. */
export function layout(view: GraphView): { placed: Map<string, Placed>; width: number; height: number } {
  const col = columns(view);
  const layers: string[][] = [];
  for (const n of view.nodes) (layers[col.get(n.id) ?? 0] ??= []).push(n.id);
  const preds = new Map<string, string[]>(view.nodes.map((n) => [n.id, []]));
  for (const e of view.edges) preds.get(e.to)?.push(e.from);
  const row = new Map<string, number>();
  layers.forEach((layer, li) => {
    if (li > 0) {
      const weight = (id: string): number => {
        const ps = (preds.get(id) ?? []).map((p) => row.get(p)).filter((r): r is number => r !== undefined);
        return ps.length ? ps.reduce((a, b) => a + b, 0) / ps.length : Infinity;
      };
      const order = new Map(layer.map((id, i) => [id, i]));
      layer.sort((a, b) => weight(a) - weight(b) || (order.get(a) ?? 0) - (order.get(b) ?? 0));
    }
    layer.forEach((id, i) => row.set(id, i));
  });
  const tallest = Math.max(1, ...layers.map((l) => l?.length ?? 0));
  const height = PAD * 2 + tallest * NODE_H + (tallest - 1) * ROW_GAP;
  const placed = new Map<string, Placed>();
  let x = PAD;
  for (const layer of layers) {
    if (!layer) continue;
    const labels = layer.map((id) => truncate(id, MAX_LABEL));
    const w = Math.ceil(Math.max(64, ...labels.map((l) => l.length * CHAR_W + 28)));
    const top = PAD + ((tallest - layer.length) * (NODE_H + ROW_GAP)) / 2;
    layer.forEach((id, i) => placed.set(id, { id, label: labels[i] ?? id, x, y: top + i * (NODE_H + ROW_GAP), w }));
    x += w + COL_GAP;
  }
  return { placed, width: Math.max(x - COL_GAP + PAD, 2 * PAD), height };
}

/**
 * The SVG markup of a graph view; each node is a `<g class="node" data-node-id>`.
 *
 * @example
 * ```ts
 * const svg = graphSvg(graphView({ shape: g, records: run.nodes }));
 * ```
 */
export function graphSvg(view: GraphView): string {
  const { placed, width, height } = layout(view);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="graph-svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="graph ${escapeHtml(view.name)}">`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#868e96"/></marker></defs>',
  ];
  for (const e of view.edges) {
    const a = placed.get(e.from);
    const b = placed.get(e.to);
    if (!a || !b) continue;
    const x1 = a.x + a.w;
    const y1 = a.y + NODE_H / 2;
    const x2 = b.x - 2;
    const y2 = b.y + NODE_H / 2;
    const dx = Math.max(20, (x2 - x1) / 2);
    const dash = e.route === undefined ? "" : ' stroke-dasharray="5 3"';
    const title = e.route === undefined ? "" : `<title>route ${escapeHtml(e.route)}</title>`;
    out.push(
      `<path class="edge${e.route === undefined ? "" : " route"}" d="M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}" fill="none" stroke="#868e96" stroke-width="1.4"${dash} marker-end="url(#arrow)">${title}</path>`,
    );
  }
  for (const n of view.nodes) {
    const p = placed.get(n.id);
    if (!p) continue;
    const st = n.status ? STATUS_STYLE[n.status] : { fill: "#ffffff", stroke: "#868e96", color: "#212529" };
    const title = n.status ? `${n.id}: ${n.status}` : n.id;
    out.push(
      `<g class="node${n.status ? ` s-${n.status}` : ""}" data-node-id="${escapeHtml(n.id)}"><title>${escapeHtml(title)}</title>` +
        `<rect x="${p.x}" y="${p.y}" width="${p.w}" height="${NODE_H}" rx="6" fill="${st.fill}" stroke="${st.stroke}" stroke-width="1.5"/>` +
        `<text x="${p.x + p.w / 2}" y="${p.y + NODE_H / 2}" text-anchor="middle" dominant-baseline="central" fill="${st.color}" font-size="13">${escapeHtml(p.label)}</text></g>`,
    );
  }
  out.push("</svg>");
  return out.join("\n");
}
