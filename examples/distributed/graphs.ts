/**
 * The graph of the distributed example, imported by the coordinator and by
 * every worker (a worker finds node bodies by graph name and node id, and
 * checks that its copy of the graph has the coordinator's fingerprint).
 *
 * A thumbnailing job: list the images, resize each one in a map node (the
 * elements spread over the workers), and write an index. Each body says
 * which worker process ran it.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { graph } from "../../src/index.js";

export const thumbnails = graph("thumbnails")
  .input<{ album: string; count: number }>()
  .node("list", ({ inputs }) => Array.from({ length: inputs.count }, (_, i) => `${inputs.album}/img-${i}.jpg`))
  .map(
    "resize",
    "list",
    async ({ item, signal, emit, step }) => {
      // A journaled side effect: if this element runs again, the upload is not repeated.
      const url = await step("upload", async () => {
        await sleep(30, undefined, { signal });
        return item.replace(".jpg", ".thumb.jpg");
      });
      emit("resized", { item, pid: process.pid });
      return { url, worker: process.pid };
    },
    { maxConcurrency: 8 },
  )
  .node(
    "index",
    ({ deps }) => ({
      thumbnails: deps.resize.map((r) => r.url),
      workers: [...new Set(deps.resize.map((r) => r.worker))].length,
    }),
    { after: ["resize"] },
  )
  .output((o) => o.index)
  .build();
