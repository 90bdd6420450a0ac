/**
 * A one-node graph for deliveries to a resumed run: its node waits for
 * `"approval"`; once `resume()` was called, it first replays a slow step
 * that `release()` lets finish, so a delivery can reach the run while its
 * node is not waiting yet (test/waits-delivery.test.ts,
 * test/runner-audit2-waits.test.ts).
 */
import { graph } from "../../src/index.js";
import type { InputValidator } from "../../src/graph/input-validator.js";
import { deferred } from "./async.js";

/** The graph named `name` (see the module comment), its wait checked by `schema` when given. */
export function replayingWait(name: string, schema?: InputValidator<string>) {
  const slow = deferred();
  let resumed = false;
  const built = graph(name)
    .node("review", async ({ waitFor, step }) => {
      if (resumed) await step("slow-prep", () => slow.promise.then(() => "prep"));
      return waitFor<string>("approval", schema === undefined ? undefined : { schema });
    })
    .build();
  return {
    graph: built,
    /** From now on the node replays the slow step before it waits. */
    resume: (): void => {
      resumed = true;
    },
    /** Lets the slow step finish. */
    release: (): void => slow.resolve(),
  };
}
