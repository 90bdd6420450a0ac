/**
 * A graph scheduled every minute, its results arriving at a small local
 * webhook receiver. The receiver checks each callback's signature with
 * verifySignature and prints the result; the scheduler runs in this same
 * process (in production it would be `taskloom scheduler start`, or a
 * Scheduler in a worker process, on the same store).
 *
 *     npm run example:schedule             # every minute, first run now; Ctrl-C stops and cancels the schedule
 *     npm run example:schedule -- --once   # one run, one callback, then exit (a smoke test)
 *
 * Runs and the schedule are kept in ./.taskloom (or TASKLOOM_DIR), like
 * the other examples: `npx taskloom schedule ls` and `npx taskloom
 * schedule history <id>` show them.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { graph, Scheduler, schedule, verifySignature, type CallbackPayload } from "../src/index.js";

const once = process.argv.includes("--once");
const secret = process.env.WEBHOOK_SECRET ?? "example-secret";

// The scheduled work: count the words of a few headlines and report the longest.
const headlines = graph("headline-stats")
  .input<{ feed: string }>()
  .node("fetch", ({ inputs }) => [
    `${inputs.feed}: durable graphs resume where they stopped`,
    `${inputs.feed}: schedules survive restarts`,
    `${inputs.feed}: one scheduler fires each slot once`,
  ])
  .node(
    "stats",
    ({ deps }) => {
      const words = deps.fetch.map((h) => h.split(/\s+/).length);
      return { headlines: deps.fetch.length, words: words.reduce((a, b) => a + b, 0), longest: Math.max(...words) };
    },
    { after: ["fetch"] },
  )
  .output(({ stats }) => ({ ...stats, at: new Date().toISOString() }))
  .build();

// The webhook receiver: verify the signature over the raw body, then use the result.
// The header is `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`; verifySignature
// checks both, and refuses a signature more than toleranceMs old (or ahead), so a captured
// callback cannot be replayed later. Use runId as an idempotency key: delivery is at least once.
let delivered!: () => void;
const firstDelivery = new Promise<void>((resolve) => (delivered = resolve));
const receiver = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const raw = Buffer.concat(chunks);
    if (!verifySignature(raw, req.headers["x-taskloom-signature"], secret, { toleranceMs: 5 * 60_000 })) {
      console.log("receiver: bad signature (wrong, or older than 5 minutes), refused");
      res.writeHead(401).end();
      return;
    }
    const result = JSON.parse(raw.toString("utf8")) as CallbackPayload;
    console.log(`receiver: ${result.runId} ${result.status} in ${result.durationMs}ms`, result.status === "succeeded" ? result.outputs : result.error);
    res.writeHead(204).end();
    delivered();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/taskloom`;

const job = await schedule(
  headlines,
  { feed: "taskloom" },
  {
    when: "now",
    repeat: { every: "1m", ...(once && { times: 1 }) },
    callbackUrl: hook,
    callbackSecret: secret,
  },
);
console.log(`scheduled ${job.id}: every minute from ${job.nextRunAt?.toISOString()}, results to ${hook}`);

const scheduler = new Scheduler({ graphs: [headlines], pollMs: 500 });
scheduler.events.on("slot:start", (e) => console.log(`scheduler: slot ${new Date(e.slot).toISOString()} -> run ${e.runId}`));
await scheduler.start();

const shutdown = async (): Promise<void> => {
  await job.cancel().catch(() => undefined);
  await scheduler.stop();
  receiver.close();
  const last = await job.lastResult();
  console.log(`stopped; last result: ${last?.runId} ${last?.status}`);
};

if (once) {
  await firstDelivery;
  await shutdown();
} else {
  console.log("Ctrl-C to stop (the schedule is cancelled on the way out)");
  process.once("SIGINT", () => void shutdown());
}
