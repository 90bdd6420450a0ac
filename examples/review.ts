/**
 * A human review step that survives restarts. The run drafts a release
 * note, then waits for a person's decision; the process exits while it
 * waits. A second command, possibly hours later and in another process,
 * records the decision and the run goes on from the waiting node: the
 * draft is not written again.
 *
 *     npm run example:review -- start                  # drafts, then waits; prints the run id
 *     npm run example:review -- approve <run-id>       # or: reject <run-id> "needs a changelog"
 *     npm run example:review -- status <run-id>
 */
import { GraphHasPendingWaits, getRun, graph, resolveWait, runAsync, WaitAlreadyResolvedError } from "../src/index.js";

interface Decision {
  readonly approved: boolean;
  readonly note?: string;
}

/** A tiny validator (any object with `parse`, or a Standard Schema such as zod, works). */
const DecisionSchema = {
  parse(value: unknown): Decision {
    const v = value as Partial<Decision> | null;
    if (typeof v?.approved !== "boolean") throw new Error("approved must be true or false");
    if (v.note !== undefined && typeof v.note !== "string") throw new Error("note must be a string");
    return { approved: v.approved, ...(v.note !== undefined && { note: v.note }) };
  },
};

const release = graph("release-note")
  .input<{ version: string }>()
  .node("draft", async ({ inputs, step }) =>
    // step() journals the result: when the run continues in another process, this is not run again.
    step("write-draft", () => {
      console.log(`  (writing the draft for ${inputs.version}: an expensive LLM call in real life)`);
      return `taskloom ${inputs.version}: waits survive restarts.`;
    }),
  )
  .node(
    "review",
    async ({ runId, waitFor }) => {
      // Code before waitFor runs again when the run continues; waitFor then returns the decision at once.
      console.log(`  review: asking for a decision (npm run example:review -- approve ${runId})`);
      return waitFor<Decision>("review:release-note", { schema: DecisionSchema, timeoutMs: 7 * 24 * 3_600_000 });
    },
    { after: ["draft"] },
  )
  .node("publish", ({ deps }) => (deps.review.approved ? `published: ${deps.draft}` : `sent back: ${deps.review.note ?? "no reason given"}`), {
    after: ["draft", "review"],
  })
  .output(({ publish }) => publish)
  .build();

async function continueRun(runId: string): Promise<void> {
  try {
    console.log("result:", await runAsync(release, undefined, { runId }));
  } catch (err) {
    if (!(err instanceof GraphHasPendingWaits)) throw err;
    console.log(`run ${err.runId} is waiting for: ${err.waits.map((w) => w.key).join(", ")}`);
  }
}

const [command, runId, note] = process.argv.slice(2);
switch (command) {
  case "start": {
    const id = `release-${Date.now()}`;
    console.log(`run ${id}`);
    try {
      await runAsync(release, { version: "0.1.0" }, { runId: id });
    } catch (err) {
      if (!(err instanceof GraphHasPendingWaits)) throw err;
      console.log(`the process can exit now; the run is saved as waiting for ${err.waits.map((w) => `"${w.key}"`).join(", ")}`);
    }
    break;
  }
  case "approve":
  case "reject": {
    if (!runId) throw new Error(`usage: ${command} <run-id>`);
    try {
      await resolveWait(runId, "review:release-note", { approved: command === "approve", ...(note !== undefined && { note }) }, { schema: DecisionSchema });
    } catch (err) {
      if (!(err instanceof WaitAlreadyResolvedError)) throw err;
      console.log(`${runId} was already reviewed; nothing changed`);
      break;
    }
    console.log(`recorded the decision for ${runId}; continuing the run`);
    await continueRun(runId);
    break;
  }
  case "status": {
    if (!runId) throw new Error("usage: status <run-id>");
    const run = await getRun(runId);
    console.log(
      run.status,
      run.waits.map((w) => w.key),
      run.nodes.map((n) => `${n.id}:${n.status}`).join(" "),
    );
    break;
  }
  default:
    console.log("usage: start | approve <run-id> | reject <run-id> [note] | status <run-id>");
}
