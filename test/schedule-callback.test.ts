/**
 * Callbacks against a real HTTP server on 127.0.0.1: the body and its
 * signature, retries with exponential backoff on the injected clock (a
 * 500 then a 200, each attempt recorded), and a dead endpoint that never
 * touches the run.
 */
import { recordUntil as recordUntilTries } from "./support/schedules.js";
import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  InvalidOptionError,
  ManualClock,
  MemoryStore,
  Scheduler,
  graph,
  runAsync,
  schedule,
  scheduleStoreFor,
  signBody,
  verifySignature,
  type RunRow,
  type ScheduledJob,
  type ScheduleRecord,
} from "../src/index.js";
import { callbackDelay, deliverCallback } from "../src/schedule/callback.js";
import { until } from "./support/async.js";

const NOW = Date.UTC(2026, 10, 23, 10, 0, 0);

interface Received {
  readonly body: string;
  readonly headers: IncomingMessage["headers"];
}

/** A receiver that answers with the next status of `replies` (the last one repeats). */
let server: Server;
let url: string;
let received: Received[] = [];
let replies: number[] = [200];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ body: Buffer.concat(chunks).toString("utf8"), headers: req.headers });
      const status = replies.length > 1 ? (replies.shift() ?? 200) : (replies[0] ?? 200);
      res.writeHead(status).end(status === 200 ? "ok" : "nope");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const schedulers: Scheduler[] = [];
afterEach(async () => {
  await Promise.all(schedulers.splice(0).map((s) => s.stop()));
  received = [];
  replies = [200];
});

const g = graph("report")
  .input<{ n: number }>()
  .node("double", ({ inputs }) => ({ value: inputs.n * 2, big: 10n, tags: new Set(["a"]) }))
  .build();

const firstRun = (r: ScheduleRecord): RunRow | undefined => r.history.find((x): x is RunRow => x.kind === "run");

const recordUntil = (job: ScheduledJob, condition: (r: ScheduleRecord) => boolean, what: string): Promise<ScheduleRecord> =>
  recordUntilTries(job, condition, what, 5_000);

describe("signatures", () => {
  it("verifySignature accepts the signature of the exact body and refuses anything else", () => {
    const body = '{"runId":"r-1","status":"succeeded"}';
    const header = signBody(body, "s3cret");
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verifySignature(body, header, "s3cret")).toBe(true);
    expect(verifySignature(Buffer.from(body), header, "s3cret")).toBe(true);
    expect(verifySignature(body, header, "other")).toBe(false);
    expect(verifySignature(`${body} `, header, "s3cret")).toBe(false);
    expect(verifySignature(body, undefined, "s3cret")).toBe(false);
    expect(verifySignature(body, "sha256=00", "s3cret")).toBe(false);
    expect(verifySignature(body, header.replace(/^t=\d+/, "t=0"), "s3cret", { toleranceMs: Infinity })).toBe(false);
    expect(verifySignature(body, header, "")).toBe(false);
  });
});

describe("signatures carry a signed timestamp", () => {
  const body = '{"runId":"r-1","status":"succeeded"}';
  const at = Date.UTC(2026, 10, 23, 10, 0, 0);

  it("reads a header given as an array (req.headersDistinct) as Node joins a repeated one", () => {
    const body = '{"a":1}';
    const header = signBody(body, "s3cret", { now: NOW });
    expect(verifySignature(body, [header], "s3cret", { now: NOW })).toBe(true);
    expect(verifySignature(body, [header, header], "s3cret", { now: NOW })).toBe(verifySignature(body, `${header},${header}`, "s3cret", { now: NOW }));
    expect(verifySignature(body, [], "s3cret", { now: NOW })).toBe(false);
    expect(verifySignature(body, [header.replace(/v1=\w/, "v1=0")], "s3cret", { now: NOW })).toBe(false);
  });

  it('is t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">', () => {
    const header = signBody(body, "s3cret", { now: at });
    const t = at / 1_000;
    expect(header).toBe(`t=${t},v1=${createHmac("sha256", "s3cret").update(`${t}.${body}`).digest("hex")}`);
    expect(verifySignature(body, header, "s3cret", { now: at })).toBe(true);
    expect(verifySignature(body, `${header},v1=${"0".repeat(64)}`, "s3cret", { now: at })).toBe(true);
  });

  it("a captured signature stops verifying after the tolerance (default 5 minutes), either way", async () => {
    const header = signBody(body, "s3cret", { now: at });
    expect(verifySignature(body, header, "s3cret", { now: at + 300_000 })).toBe(true);
    expect(verifySignature(body, header, "s3cret", { now: at + 301_000 })).toBe(false);
    expect(verifySignature(body, header, "s3cret", { now: at - 301_000 })).toBe(false);
    expect(verifySignature(body, header, "s3cret", { now: new Date(at + 59_000), toleranceMs: 60_000 })).toBe(true);
    expect(verifySignature(body, header, "s3cret", { now: at + 61_000, toleranceMs: 60_000 })).toBe(false);
    expect(verifySignature(body, header, "s3cret", { now: at + 86_400_000 * 365, toleranceMs: Infinity })).toBe(true);
    const clock = new ManualClock(at);
    expect(verifySignature(body, header, "s3cret", { clock })).toBe(true);
    await clock.advance(300_001);
    expect(verifySignature(body, header, "s3cret", { clock })).toBe(false);
    // A replay with a fresh timestamp does not verify: the timestamp is signed.
    const replay = header.replace(/^t=\d+/, `t=${(at + 3_600_000) / 1_000}`);
    expect(verifySignature(body, replay, "s3cret", { now: at + 3_600_000 })).toBe(false);
    // The old body-only form is refused.
    expect(verifySignature(body, `sha256=${createHmac("sha256", "s3cret").update(body).digest("hex")}`, "s3cret", { now: at })).toBe(false);
  });

  it("refuses bad options", () => {
    const header = signBody(body, "s3cret", { now: at });
    expect(() => verifySignature(body, header, "s3cret", { toleranceMs: -1 })).toThrow(InvalidOptionError);
    expect(() => verifySignature(body, header, "s3cret", { tolerance: 5 } as never)).toThrow(/did you mean "toleranceMs"/);
  });
});

describe("the callback URL is checked again at delivery", () => {
  it.each([
    ["a data: URL", "data:text/plain,hello", /not sent: the callback URL must be an http or https URL \(got a "data:" URL\)/],
    ["a URL with credentials", "http://user:pa55@127.0.0.1:9/hook", /not sent: the callback URL must not hold credentials/],
  ])("%s edited into the stored schedule is a failed delivery with the reason; nothing is sent", async (_what, edited, reason) => {
    const clock = new ManualClock(NOW);
    const store = new MemoryStore();
    const job = await schedule(g, { n: 1 }, { when: "now", store, clock, callbackUrl: url });
    await scheduleStoreFor(store).update(job.id, (r) => ({ ...r, callbackUrl: edited }));
    const s = new Scheduler({ store, graphs: [g], clock });
    schedulers.push(s);
    await s.start();
    const record = await recordUntil(job, (r) => firstRun(r)?.callback?.done === true, "the delivery");
    const callback = firstRun(record)?.callback;
    expect(callback?.delivered).toBe(false);
    expect(callback?.attempts).toHaveLength(1);
    expect(callback?.attempts[0]?.error).toMatch(reason);
    expect(callback?.attempts[0]?.error).not.toContain("pa55");
    expect(received).toHaveLength(0);
    expect(firstRun(record)?.status).toBe("succeeded");
  });
});

describe("a scheduled run's callback", () => {
  it("POSTs the result, signed; the receiver verifies the signature", async () => {
    const clock = new ManualClock(NOW);
    const store = new MemoryStore();
    const job = await schedule(g, { n: 21 }, { when: "now", store, clock, callbackUrl: url, callbackSecret: "s3cret" });
    const s = new Scheduler({ store, graphs: [g], clock });
    schedulers.push(s);
    await s.start();
    const record = await recordUntil(job, (r) => firstRun(r)?.callback?.done === true, "the delivery");
    expect(received).toHaveLength(1);
    const [hit] = received;
    expect(verifySignature(hit?.body ?? "", hit?.headers["x-taskloom-signature"] as string, "s3cret", { now: clock.now() })).toBe(true);
    expect(verifySignature(hit?.body ?? "", hit?.headers["x-taskloom-signature"] as string, "wrong", { now: clock.now() })).toBe(false);
    const runId = `${job.id}-20261123T100000Z`;
    expect(JSON.parse(hit?.body ?? "")).toEqual({
      scheduleId: job.id,
      runId,
      slot: "2026-11-23T10:00:00.000Z",
      status: "succeeded",
      outputs: { double: { value: 42, big: "10", tags: ["a"] } },
      // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers (expect.any, objectContaining, stringMatching) as any
      durationMs: expect.any(Number),
    });
    expect(hit?.headers["content-type"]).toBe("application/json");
    expect(firstRun(record)?.callback).toMatchObject({ url, delivered: true, done: true, attempts: [{ status: 200 }] });
  });

  it("a 500 then a 200: retried after the backoff on the clock, both attempts recorded", async () => {
    replies = [500, 200];
    const clock = new ManualClock(NOW);
    const store = new MemoryStore();
    const job = await schedule(g, { n: 1 }, { when: "now", store, clock, callbackUrl: url, callbackRetry: { initialMs: 7_000, maxAttempts: 3 } });
    const s = new Scheduler({ store, graphs: [g], clock, pollMs: 60_000 });
    schedulers.push(s);
    await s.start();
    await recordUntil(job, (r) => firstRun(r)?.callback?.attempts.length === 1, "the first attempt");
    expect(firstRun(job.record)?.callback).toMatchObject({ delivered: false, done: false, attempts: [{ status: 500 }] });
    await until(() => clock.pendingDelays().includes(7_000), "the backoff timer");
    await clock.advance(6_999);
    expect(received).toHaveLength(1);
    await clock.advance(1);
    const record = await recordUntil(job, (r) => firstRun(r)?.callback?.done === true, "the second attempt");
    expect(received).toHaveLength(2);
    expect(firstRun(record)?.callback).toMatchObject({ delivered: true, done: true, attempts: [{ status: 500 }, { status: 200 }] });
    expect(firstRun(record)?.callback?.attempts[1]?.at).toBe(NOW + 7_000);
    expect(firstRun(record)?.status).toBe("succeeded");
  });

  it("a scheduler that lost the schedule's lease during a backoff sends nothing more and records nothing: the new holder delivers", async () => {
    replies = [500, 200];
    const clock = new ManualClock(NOW);
    const store = new MemoryStore();
    const job = await schedule(g, { n: 1 }, { when: "now", store, clock, callbackUrl: url, callbackRetry: { initialMs: 7_000, maxAttempts: 3 } });
    const s = new Scheduler({ store, graphs: [g], clock, pollMs: 60_000 });
    schedulers.push(s);
    const errors: unknown[] = [];
    s.events.on("error", (e) => errors.push(e.error));
    await s.start();
    await recordUntil(job, (r) => firstRun(r)?.callback?.attempts.length === 1, "the first attempt");
    await until(() => clock.pendingDelays().includes(7_000), "the backoff timer");
    // Another scheduler took the schedule over (this one stalled past its lease, say).
    await scheduleStoreFor(store).update(job.id, (r) => ({
      ...r,
      lease: { ...r.lease!, owner: "scheduler:other", token: r.lease!.token + 1, expiresAt: NOW + 3_600_000 },
    }));
    await clock.advance(7_000);
    // stop() waits for the deliveries under way: the backoff has ended, so this one decides to send or not before.
    await s.stop();
    await job.refresh();
    expect(received).toHaveLength(1);
    expect(firstRun(job.record)?.callback).toMatchObject({ delivered: false, done: false, attempts: [{ status: 500 }] });
    expect(errors).toEqual([]);
  });

  it("a dead endpoint: every attempt fails and is recorded; the run succeeded and is never repeated", async () => {
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, "127.0.0.1", resolve));
    const deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}/`;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const clock = new ManualClock(NOW);
    const store = new MemoryStore();
    let runs = 0;
    const counted = graph("counted")
      .node("once", () => ++runs)
      .build();
    const job = await schedule(counted, {}, { when: "now", store, clock, callbackUrl: deadUrl, callbackRetry: { maxAttempts: 3, initialMs: 100, factor: 3 } });
    const s = new Scheduler({ store, graphs: [counted], clock, pollMs: 1_000 });
    schedulers.push(s);
    await s.start();
    await recordUntil(job, (r) => firstRun(r)?.callback?.attempts.length === 1, "the first attempt");
    await clock.advance(100);
    await recordUntil(job, (r) => firstRun(r)?.callback?.attempts.length === 2, "the second attempt");
    await clock.advance(300);
    const record = await recordUntil(job, (r) => firstRun(r)?.callback?.done === true, "the last attempt");
    const callback = firstRun(record)?.callback;
    expect(callback?.delivered).toBe(false);
    expect(callback?.attempts.map((a) => a.error)).toEqual(["ECONNREFUSED", "ECONNREFUSED", "ECONNREFUSED"]);
    expect(callback?.attempts.map((a) => a.at)).toEqual([NOW, NOW + 100, NOW + 400]);
    await clock.advance(3_600_000);
    expect(runs).toBe(1);
    expect(record.status).toBe("completed");
    expect(firstRun(record)?.status).toBe("succeeded");
    expect(await job.lastResult()).toMatchObject({ status: "succeeded", outputs: { once: 1 } });
  });
});

describe("deliverCallback", () => {
  it("waits initialMs * factor^(n-2), capped at maxMs, between attempts", () => {
    const retry = { maxAttempts: 6, initialMs: 1_000, factor: 2, maxMs: 5_000, timeoutMs: 1_000 };
    expect([2, 3, 4, 5, 6].map((n) => callbackDelay(retry, n))).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);
  });

  it("continues a delivery after a restart from the attempts already made, waiting only the rest of the backoff", async () => {
    replies = [200];
    const clock = new ManualClock(NOW);
    const attempts: number[] = [];
    const delivering = deliverCallback({
      url,
      body: "{}",
      retry: { maxAttempts: 5, initialMs: 1_000, factor: 2, maxMs: 60_000, timeoutMs: 5_000 },
      clock,
      previous: [{ at: NOW - 500, status: 503, durationMs: 3 }],
      onAttempt: (a) => void attempts.push(a.at),
    });
    await until(() => clock.pendingDelays().length === 1, "the backoff timer");
    expect(clock.pendingDelays()).toEqual([500]);
    await clock.advance(500);
    expect(await delivering).toBe(true);
    expect(attempts).toEqual([NOW + 500]);
  });
});

describe("a delivery cut short", () => {
  it("is continued by the next scheduler from the recorded attempts, after the rest of the backoff", async () => {
    replies = [200];
    const clock = new ManualClock(NOW);
    const store = new MemoryStore();
    const job = await schedule(
      g,
      { n: 2 },
      { when: "now", store, clock, callbackUrl: url, callbackSecret: "k", callbackRetry: { initialMs: 5_000, maxAttempts: 3 } },
    );
    const runId = `${job.id}-20261123T100000Z`;
    await runAsync(g, { n: 2 }, { runId, store, clock });
    // What a scheduler leaves when it dies after a first attempt that got a 503.
    await scheduleStoreFor(store).update(job.id, (r) => {
      const { nextRunAt: _n, ...rest } = r;
      return {
        ...rest,
        status: "completed",
        fired: 1,
        history: [
          {
            kind: "run",
            slot: NOW,
            runId,
            status: "succeeded",
            startedAt: NOW,
            endedAt: NOW,
            durationMs: 1,
            callback: { url, delivered: false, done: false, attempts: [{ at: NOW, status: 503, durationMs: 2 }] },
          },
        ],
      };
    });
    await clock.advance(2_000);
    const s = new Scheduler({ store, graphs: [g], clock });
    schedulers.push(s);
    await s.start();
    await until(() => clock.pendingDelays().includes(3_000), "the rest of the backoff");
    expect(received).toHaveLength(0);
    await clock.advance(3_000);
    const record = await recordUntil(job, (r) => firstRun(r)?.callback?.done === true, "the delivery");
    expect(received).toHaveLength(1);
    const [hit] = received;
    expect(JSON.parse(hit?.body ?? "")).toMatchObject({ runId, status: "succeeded", outputs: { double: { value: 4 } } });
    expect(verifySignature(hit?.body ?? "", hit?.headers["x-taskloom-signature"] as string, "k", { now: clock.now() })).toBe(true);
    expect(firstRun(record)?.callback?.attempts.map((a) => a.status)).toEqual([503, 200]);
  });
});
