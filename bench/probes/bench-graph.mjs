/**
 * The bench's no-op graph of `n` middle nodes, built with a tree's own
 * compiled package (`lib`, its `dist/index.js`), for the `.mjs` probes that
 * run one tree's `dist/` (row-instr.mjs, store-timeline.mjs). Fan-out: a
 * root, `n` nodes after it, a join after all of them. Chain: `n` nodes,
 * each after the one before. The same graph as `bench/systems`' builder.
 */
export function benchGraph(lib, shape, n) {
  const ids = Array.from({ length: n }, (_, i) => `n${i}`);
  let b = lib.graph(shape);
  if (shape === "fanout") {
    b = b.node("root", async () => 0);
    for (let i = 0; i < n; i++) b = b.node(ids[i], async () => i, { after: ["root"] });
    b = b.node("join", async () => 0, { after: ids });
  } else {
    b = b.node(ids[0], async () => 0);
    for (let i = 1; i < n; i++) b = b.node(ids[i], async () => i, { after: [ids[i - 1]] });
  }
  return b.output(() => null).build();
}
