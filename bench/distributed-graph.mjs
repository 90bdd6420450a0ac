// The graph of bench:distributed, shared by the coordinator and the worker processes:
// a fan-out, 1 root → N no-op nodes → 1 join (the benchmark's fan-out shape).
import { graph } from "../dist/index.js";

export function fanOut(n) {
  let b = graph(`fan-${n}`).node("root", async () => 0);
  const ids = [];
  for (let i = 0; i < n; i++) {
    b = b.node(`n${i}`, async () => i, { after: ["root"] });
    ids.push(`n${i}`);
  }
  return b
    .node("join", async () => 0, { after: ids })
    .output(() => null)
    .build();
}
