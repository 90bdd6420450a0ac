/**
 * The graph's structure as text: Mermaid, Graphviz dot, or JSON. Pure
 * functions over a {@link GraphView} (nodes, each with an optional status,
 * and `after` edges), built from a graph, from a stored run's node
 * records, or from both, so `taskloom graph` draws structure and
 * `taskloom show --format mermaid` colours the same drawing by status.
 *
 * A graph is read only through its public shape ({@link GraphShape}), so a
 * graph built by another copy of taskloom can be drawn too.
 *
 * @module
 */
import type { NodeRecord, NodeStatus } from "../index.js";

/** The parts of a `TaskGraph` the CLI reads. */
export interface GraphShape {
  readonly name: string;
  readonly fingerprint: string;
  nodeIds(): readonly string[];
  node(id: string):
    | {
        readonly id: string;
        readonly after: readonly string[];
        readonly retry?: unknown;
        readonly timeoutMs?: number;
        /** Route name → target id(s), for a routing node. */
        readonly routes?: Readonly<Record<string, string | readonly string[]>>;
      }
    | undefined;
}

/** One edge to draw: an `after` edge, or a route (`back` when it closes a loop). */
export interface ViewEdge {
  readonly from: string;
  readonly to: string;
  /** The route's name, for a routing edge. */
  readonly route?: string;
  /** True for a route that leads back to an earlier node. */
  readonly back?: boolean;
}

/** One node to draw. */
export interface ViewNode {
  readonly id: string;
  /** Its status in a run (absent when drawing structure only). */
  readonly status?: NodeStatus;
}

/** What to draw: nodes in topological order, and `from → to` edges. */
export interface GraphView {
  readonly name: string;
  readonly nodes: readonly ViewNode[];
  readonly edges: readonly ViewEdge[];
}

/** Fill, stroke and text colour per status; the one table every format uses. */
export const STATUS_STYLE: Readonly<Record<NodeStatus, { readonly fill: string; readonly stroke: string; readonly color: string }>> = {
  pending: { fill: "#f1f3f5", stroke: "#adb5bd", color: "#495057" },
  ready: { fill: "#e7f5ff", stroke: "#74c0fc", color: "#1864ab" },
  running: { fill: "#d0ebff", stroke: "#1c7ed6", color: "#0b3d91" },
  retrying: { fill: "#fff4e6", stroke: "#f76707", color: "#862e00" },
  succeeded: { fill: "#d3f9d8", stroke: "#2b8a3e", color: "#1b4332" },
  failed: { fill: "#ffe3e3", stroke: "#e03131", color: "#7d1212" },
  waiting: { fill: "#fff9db", stroke: "#f08c00", color: "#5c3c00" },
  skipped: { fill: "#f8f9fa", stroke: "#ced4da", color: "#868e96" },
  cancelled: { fill: "#e9ecef", stroke: "#495057", color: "#343a40" },
};

/** When activations of one node disagree, the status shown is the first of these that any has. */
const STATUS_PRIORITY: readonly NodeStatus[] = ["failed", "running", "retrying", "waiting", "cancelled", "ready", "pending", "succeeded", "skipped"];

/** The status to show for each graph node, from a run's activation records. */
export function statusByNode(records: readonly NodeRecord[]): Map<string, NodeStatus> {
  const byNode = new Map<string, NodeStatus>();
  for (const r of records) {
    const seen = byNode.get(r.nodeId);
    if (seen === undefined || STATUS_PRIORITY.indexOf(r.status) < STATUS_PRIORITY.indexOf(seen)) byNode.set(r.nodeId, r.status);
  }
  return byNode;
}

/**
 * What to draw. With a graph, its nodes and edges; with records, their
 * statuses (and, without a graph, their nodes, unconnected: a stored run
 * does not keep the graph's edges).
 */
export function graphView(options: { shape?: GraphShape; records?: readonly NodeRecord[]; name?: string }): GraphView {
  const { shape, records } = options;
  const status = records ? statusByNode(records) : new Map<string, NodeStatus>();
  const ids: string[] = shape ? [...shape.nodeIds()] : [];
  const known = new Set(ids);
  for (const id of status.keys()) {
    if (!known.has(id)) {
      ids.push(id);
      known.add(id);
    }
  }
  const edges: ViewEdge[] = [];
  if (shape) {
    for (const id of shape.nodeIds()) for (const dep of shape.node(id)?.after ?? []) edges.push({ from: dep, to: id });
    const routes: { from: string; to: string; route: string }[] = [];
    for (const id of shape.nodeIds()) {
      for (const [route, targets] of Object.entries(shape.node(id)?.routes ?? {})) {
        for (const to of typeof targets === "string" ? [targets] : targets) routes.push({ from: id, to, route });
      }
    }
    const next = new Map<string, string[]>();
    for (const e of [...edges, ...routes]) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
    for (const e of routes) edges.push({ ...e, ...(reaches(next, e.to, e.from) && { back: true }) });
  }
  return {
    name: options.name ?? shape?.name ?? "graph",
    nodes: ids.map((id) => {
      const s = status.get(id);
      return s === undefined ? { id } : { id, status: s };
    }),
    edges,
  };
}

/** True when `to` can be reached from `from` along `next`. */
function reaches(next: ReadonlyMap<string, readonly string[]>, from: string, to: string): boolean {
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length > 0) {
    const id = stack.pop() as string;
    if (id === to) return true;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...(next.get(id) ?? []));
  }
  return false;
}

/** Escapes a label for a quoted Mermaid node label (entity codes, so any node id is safe). */
export function mermaidLabel(text: string): string {
  return text.replace(/[#"<>&`]/g, (c) => `#${c.charCodeAt(0)};`);
}

/**
 * A Mermaid flowchart, left to right. Node ids become `n0, n1, …` (any
 * text is a valid taskloom id, not a valid Mermaid id); labels carry the
 * ids; statuses become classes, with a `classDef` each.
 *
 * @example
 * ```ts
 * toMermaid(graphView({ shape: g })); // "flowchart LR\n  n0[\"fetch\"]\n  n1[\"parse\"]\n  n0 --> n1"
 * ```
 */
export function toMermaid(view: GraphView): string {
  const key = new Map(view.nodes.map((n, i) => [n.id, `n${i}`]));
  const lines = ["flowchart LR"];
  for (const n of view.nodes) {
    lines.push(`  ${key.get(n.id)}["${mermaidLabel(n.id)}"]${n.status ? `:::${n.status}` : ""}`);
  }
  for (const e of view.edges) {
    const from = key.get(e.from);
    const to = key.get(e.to);
    if (from === undefined || to === undefined) continue;
    lines.push(e.route === undefined ? `  ${from} --> ${to}` : `  ${from} -.->|"${mermaidLabel(e.route)}"| ${to}`);
  }
  const used = new Set(view.nodes.flatMap((n) => (n.status ? [n.status] : [])));
  for (const s of used) {
    const st = STATUS_STYLE[s];
    lines.push(`  classDef ${s} fill:${st.fill},stroke:${st.stroke},color:${st.color}`);
  }
  return lines.join("\n");
}

/** A double-quoted dot string. */
function dotString(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\r?\n/g, "\\n")}"`;
}

/**
 * A Graphviz digraph, left to right; nodes with a status are filled with its colour.
 *
 * @example
 * ```ts
 * toDot(graphView({ shape: g })); // 'digraph "etl" {\n  rankdir=LR; …'
 * ```
 */
export function toDot(view: GraphView): string {
  const lines = [
    `digraph ${dotString(view.name)} {`,
    "  rankdir=LR;",
    '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica"];',
  ];
  for (const n of view.nodes) {
    const st = n.status ? STATUS_STYLE[n.status] : undefined;
    const attrs = st ? ` [fillcolor=${dotString(st.fill)}, color=${dotString(st.stroke)}, tooltip=${dotString(n.status ?? "")}]` : "";
    lines.push(`  ${dotString(n.id)}${attrs};`);
  }
  for (const e of view.edges) {
    const attrs = e.route === undefined ? "" : ` [style=dashed, label=${dotString(e.route)}]`;
    lines.push(`  ${dotString(e.from)} -> ${dotString(e.to)}${attrs};`);
  }
  lines.push("}");
  return lines.join("\n");
}

/** The graph's structure as plain data, for `--format json`. */
export function graphData(shape: GraphShape): {
  name: string;
  fingerprint: string;
  nodes: { id: string; after: readonly string[]; retry?: unknown; timeoutMs?: number; routes?: unknown }[];
  edges: ViewEdge[];
} {
  const nodes = shape.nodeIds().map((id) => {
    const n = shape.node(id);
    return {
      id,
      after: n?.after ?? [],
      ...(n?.retry !== undefined && { retry: n.retry }),
      ...(n?.timeoutMs !== undefined && { timeoutMs: n.timeoutMs }),
      ...(n?.routes !== undefined && { routes: n.routes }),
    };
  });
  return { name: shape.name, fingerprint: shape.fingerprint, nodes, edges: [...graphView({ shape }).edges] };
}
