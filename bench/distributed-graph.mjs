// The graphs of bench:distributed, shared by the coordinator and the worker processes:
// a fan-out, 1 root → N nodes → 1 join (the benchmark's fan-out shape), with no-op bodies
// (`fanOut`) or bodies that each wait `ms` milliseconds, as an I/O-bound body would (`ioFanOut`).
import { graph } from "../dist/index.js";

function build(name, n, body) {
  let b = graph(name).node("root", async () => 0);
  const ids = [];
  for (let i = 0; i < n; i++) {
    b = b.node(`n${i}`, body(i), { after: ["root"] });
    ids.push(`n${i}`);
  }
  return b
    .node("join", async () => 0, { after: ids })
    .output(() => null)
    .build();
}

export function fanOut(n) {
  return build(`fan-${n}`, n, (i) => async () => i);
}

export function ioFanOut(n, ms) {
  return build(`io-${n}-${ms}`, n, (i) => () => new Promise((resolve) => setTimeout(() => resolve(i), ms)));
}
