/**
 * `graphFn`: a dynamic graph written as one async function. This example
 * books a trip: it looks up three quotes in parallel, holds a seat, and
 * charges a card that fails its first attempt (a retry) — then shows:
 *
 * 1. a run that fails half way, and its resume by run id: the steps that
 *    had succeeded are replayed from the journal without running;
 * 2. a saga: a step that runs out of attempts rejects in the body, which
 *    runs a compensating step, and the run succeeds;
 * 3. replay divergence: a changed function resuming an old run gets
 *    `NonDeterminismError` naming both steps;
 * 4. a step that waits for a person (`waitFor`), and `resolveWait`.
 *
 * Runs are kept in a temporary folder (a LowdbStore), removed at the end.
 *
 *     npx tsx examples/graph-fn.ts
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { GraphHasPendingWaits, LowdbStore, NodeFailedError, NonDeterminismError, graphFn, resolveWait, run, runAsync } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "taskloom-graph-fn-example-"));
const store = new LowdbStore({ dir });

/** Counts how often each step body really ran. */
const ran: Record<string, number> = {};
const hit = (id: string): void => void (ran[id] = (ran[id] ?? 0) + 1);
/** One line per value. */
const show = (value: unknown): string => inspect(value, { breakLength: Infinity, depth: 4 });

/** A fake payment service: down until `paymentsUp` is set, and flaky on a first attempt. */
let paymentsUp = false;

interface Trip {
  readonly from: string;
  readonly to: string;
}

const book = graphFn("book-trip", async (trip: Trip, { step }) => {
  // Three steps awaited together run in parallel (up to maxConcurrency).
  const quotes = await Promise.all(
    ["air", "rail", "bus"].map((mode) =>
      step(`quote:${mode}`, () => {
        hit(`quote:${mode}`);
        return { mode, cents: 10_000 + mode.length * 1_111 };
      }),
    ),
  );
  const best = quotes.reduce((a, b) => (b.cents < a.cents ? b : a));
  const seat = await step("hold-seat", () => {
    hit("hold-seat");
    return `${best.mode}:${trip.from}-${trip.to}:12A`;
  });
  const charge = await step(
    "charge",
    ({ attempt }) => {
      hit("charge");
      if (!paymentsUp) throw new Error("payment service is down");
      if (attempt === 1) throw new Error("timeout talking to the bank (first attempt)");
      return { id: `ch_${best.cents}`, cents: best.cents };
    },
    { retry: { maxAttempts: 2, backoff: { initialMs: 20, jitter: false } } },
  );
  return { seat, charge, at: new Date(Date.UTC(2026, 10, 23)) };
});

const trip = { from: "LIS", to: "OPO" };

console.log("1. A run that fails half way, then resumes by its run id");
try {
  await runAsync(book, trip, { store, runId: "trip-1" });
} catch (error) {
  if (!(error instanceof NodeFailedError)) throw error;
  console.log(`   first run failed: step "${error.nodeId}" after ${error.attempts} attempts (${(error.cause as Error).message})`);
  console.log(`   step bodies run so far: ${show(ran)}`);
}
paymentsUp = true;
const handle = run(book, undefined, { store, runId: "trip-1" }); // inputs omitted: the stored ones are used
handle.events.on("node:start", (e) => console.log(`   running  ${e.nodeId} (attempt ${e.attempt})`));
handle.events.on("node:retry", (e) => console.log(`   retrying ${e.nodeId} in ${e.delayMs} ms`));
const booked = await handle.result();
console.log(`   resumed run finished: ${show(booked)}`);
console.log(`   step bodies run in total: ${show(ran)}`);
console.log("   (the quotes and hold-seat ran once: the resumed run replayed them from the journal)");

console.log("\n2. A saga: the body catches a failed step and compensates");
const transfer = graphFn("transfer", async (input: { cents: number }, { step }) => {
  const debit = await step("debit", () => `debited ${input.cents}`);
  try {
    await step(
      "credit",
      () => {
        throw new Error("receiving bank rejected the transfer");
      },
      { retry: { maxAttempts: 1 } },
    );
    return { status: "done", debit };
  } catch (error) {
    if (!(error instanceof NodeFailedError)) throw error;
    const refund = await step("refund", () => `refunded ${input.cents}`);
    return { status: "compensated", debit, refund, reason: (error.cause as Error).message };
  }
});
console.log(`   ${show(await transfer({ cents: 2_500 }, { store }))}`);

console.log("\n3. Replay divergence");
// Same name, so the same fingerprint; the function changed under a failed run.
const v1 = graphFn("report", async (_: undefined, { step }) => {
  await step("load", () => "rows");
  return step(
    "render-pdf",
    () => {
      throw new Error("renderer crashed");
    },
    { retry: { maxAttempts: 1 } },
  );
});
const v2 = graphFn("report", async (_: undefined, { step }) => {
  await step("load", () => "rows");
  return step("render-html", () => "<html>");
});
await runAsync(v1, undefined, { store, runId: "report-1" }).catch(() => undefined);
try {
  await runAsync(v2, undefined, { store, runId: "report-1" });
} catch (error) {
  if (!(error instanceof NonDeterminismError)) throw error;
  console.log(`   ${error.name} (${error.code}): step #${error.position + 1} was "${error.expected}", now "${error.actual}"`);
}

console.log("\n4. A step that waits for a person");
const publish = graphFn("publish", async (doc: { id: string }, { step }) => {
  const draft = await step("draft", () => {
    hit("draft");
    return `draft of ${doc.id}`;
  });
  const review = await step("review", ({ waitFor }) => waitFor<{ approved: boolean }>(`review:${doc.id}`));
  return step("publish", () => ({ draft, published: review.approved }));
});
try {
  await publish({ id: "doc-7" }, { store, runId: "publish-7" });
} catch (error) {
  if (!(error instanceof GraphHasPendingWaits)) throw error;
  console.log(`   the run is saved as waiting for ${error.waits.map((w) => `"${w.key}" (step ${w.nodeId})`).join(", ")}`);
}
await resolveWait("publish-7", "review:doc-7", { approved: true }, { store });
const published = await runAsync(publish, undefined, { store, runId: "publish-7" }); // undefined: the stored inputs
console.log(`   after resolveWait the run finished: ${show(published)}; "draft" ran ${ran.draft} time(s)`);

await store.close();
rmSync(dir, { recursive: true, force: true });
