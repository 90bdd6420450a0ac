/**
 * A human review step that survives restarts. The run drafts a release
 * note, then waits for a person's decision; the process exits while it
 * waits. A second command, possibly hours later and in another process,
 * records the decision and the run goes on from the waiting node: the
 * draft is not written again.
 *
 *     npm run example:review                           # the whole demo: start, approve from a second process, finish
 *     npm run example:review -- start                  # drafts, then waits; prints the run id
 *     npm run example:review -- approve <run-id>       # or: reject <run-id> "needs a changelog"
 *     npm run example:review -- status <run-id>
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
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
    async ({ runId, step, waitFor }) => {
      // The body runs again when the run continues, and waitFor then returns the decision at once.
      // Asking is a side effect (a message to a reviewer in real life), so it is a step: asked once.
      await step("ask-reviewer", () => {
        console.log(`  review: asking for a decision (npm run example:review -- approve ${runId})`);
        return true;
      });
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

/** Starts a run, which drafts and then waits for the review; returns its id. */
async function start(): Promise<string> {
  const id = `release-${Date.now()}`;
  console.log(`run ${id}`);
  try {
    await runAsync(release, { version: "0.1.0" }, { runId: id });
  } catch (err) {
    if (!(err instanceof GraphHasPendingWaits)) throw err;
    console.log(`the process can exit now; the run is saved as waiting for ${err.waits.map((w) => `"${w.key}"`).join(", ")}`);
  }
  return id;
}

/** Runs this example again as another process (`approve <run-id>`, say) and waits for it. */
function second(args: readonly string[]): Promise<void> {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...args], { stdio: "inherit" });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`"${args.join(" ")}" exited with ${code}`))));
  });
}

const [command, runId, note] = process.argv.slice(2);
switch (command) {
  case undefined: {
    console.log("1. start the run (this process):");
    const id = await start();
    console.log(`\n2. approve it from a second process (npm run example:review -- approve ${id}):`);
    await second(["approve", id]);
    const stored = await getRun(id);
    console.log(`\n3. the stored run: ${stored.status}; its draft was written once, its reviewer asked once.`);
    break;
  }
  case "start":
    await start();
    break;
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
    console.log("usage: (nothing: the whole demo) | start | approve <run-id> | reject <run-id> [note] | status <run-id>");
}
