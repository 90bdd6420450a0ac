/**
 * A graph's input validator is not part of its fingerprint, so a graph
 * that gains (or tightens) one still resumes runs stored before: their
 * stored inputs are validated on every resume, by `runAsync` with a run id
 * (inputs omitted), by `taskloom resume` and by the Scheduler (which goes
 * through `runAsync`). Refused: `InputValidationError`, no node runs and
 * the stored run is left as it was (issue 14 item 4).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { getRun, graph, InputValidationError, LowdbStore, MemoryStore, runAsync } from "../src/index.js";
import { rejection } from "./support/async.js";
import { ROOT, runCli } from "./support/cli-process.js";

const root = mkdtempSync(join(tmpdir(), "taskloom-resume-inputs-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const NumberInputs = {
  parse(value: unknown): { n: number } {
    if (typeof (value as { n?: unknown })?.n !== "number") throw new Error("n must be a number");
    return value as { n: number };
  },
};

/** The graph as it was (no validator; "a" fails on the first run) and as it is now (validator added). */
function graphs(ran: string[]) {
  let first = true;
  const body = ({ inputs }: { inputs: { n: unknown } }) => {
    ran.push("a");
    if (first) {
      first = false;
      throw new Error("transient");
    }
    return inputs.n;
  };
  const before = graph("validated")
    .input<{ n: unknown }>()
    .node("a", body, { retry: { maxAttempts: 1 } })
    .build();
  const after = graph("validated")
    .input(NumberInputs)
    .node("a", body, { retry: { maxAttempts: 1 } })
    .build();
  expect(after.fingerprint).toBe(before.fingerprint);
  return { before, after };
}

describe("resuming a stored run whose inputs the graph's validator now refuses", () => {
  it("runAsync with the run id and no inputs: InputValidationError, nothing runs, nothing written", async () => {
    const store = new MemoryStore();
    const ran: string[] = [];
    const { before, after } = graphs(ran);
    await rejection(runAsync(before, { n: "seven" }, { store, runId: "bad-inputs" }));
    const stored = await getRun("bad-inputs", { store });
    expect(stored.status).toBe("failed");
    ran.length = 0;

    const error = await rejection(runAsync(after, undefined, { store, runId: "bad-inputs" }));
    expect(error).toBeInstanceOf(InputValidationError);
    expect((error as InputValidationError).message).toContain("n must be a number");
    expect(ran).toEqual([]);
    expect(await getRun("bad-inputs", { store })).toEqual(stored);
  });

  it("valid stored inputs still resume", async () => {
    const store = new MemoryStore();
    const ran: string[] = [];
    const { before, after } = graphs(ran);
    await rejection(runAsync(before, { n: 7 }, { store, runId: "good-inputs" }));
    await expect(runAsync(after, undefined, { store, runId: "good-inputs" })).resolves.toEqual({ a: 7 });
  });

  it("taskloom resume: exit 1 with error[INPUT_VALIDATION] and no stack, the node does not run, the run is unchanged", async () => {
    const dir = join(root, "cli");
    const log = join(root, "cli.log");
    const store = new LowdbStore({ dir });
    const { before } = graphs([]);
    await rejection(runAsync(before, { n: "seven" }, { store, runId: "cli-bad" }));
    const stored = await getRun("cli-bad", { store });
    const r = await runCli(dir, ["resume", "cli-bad", join(ROOT, "test/fixtures/cli/validated.mjs")], { LOG: log });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.trimEnd().split("\n").at(-1)).toContain("error[INPUT_VALIDATION]");
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr).toContain("n must be a number");
    expect(existsSync(log) ? readFileSync(log, "utf8") : "").toBe("");
    expect(await getRun("cli-bad", { store: new LowdbStore({ dir }) })).toEqual(stored);
    await store.close();
  });
});
