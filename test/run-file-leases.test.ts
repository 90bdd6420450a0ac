/**
 * The lease protocol of `RunFileStore` across processes
 * (src/persistence/run-file-leases.ts): real `node` children, each a
 * `RunFileStore` of the compiled package (test/fixtures/run-file-child.mjs,
 * driven by JSON commands on stdin), race for new runs, take over expired
 * or dead holders' runs, ask holders to cancel, read and delete runs held
 * elsewhere, while this process only orchestrates and checks what a
 * third store object reads. Nothing here asserts a duration: an order is
 * made by awaiting a child's answer, a race by sending one command to
 * several children at once, and the one bound on a wait (the pause of
 * test/fixtures/run-file-starter-child.mjs) only ends a pause that the
 * other side's answer ends first when the store misbehaves.
 */
import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { processIdentity, startTimeOf } from "../src/persistence/lease-rules.js";
import { RunFileStore } from "../src/persistence/run-file-store.js";
import type { CancelRequest, Lease } from "../src/persistence/run-store.js";
import { nodeRecords } from "../src/state/node-table.js";
import type { JournalRecord, NodeRecord } from "../src/state/records.js";
import { nodeRecord } from "./store-conformance.js";

const CHILD = resolve(import.meta.dirname, "fixtures/run-file-child.mjs");
const root = mkdtempSync(join(tmpdir(), "taskloom-run-file-leases-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** What a child says of a failed call: the error's name, code and the fields of a lease error. */
interface ChildError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly holder?: Lease;
  readonly heldToken?: number;
  readonly currentToken?: number;
}

type Answer = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: ChildError };

/** A run as a child or this process loads it: its seq, its inputs (which snapshot) and its nodes. */
interface Loaded {
  readonly seq: number;
  readonly inputs: unknown;
  readonly nodes: readonly Pick<NodeRecord, "id" | "status" | "attempts" | "output">[];
}

/** A child process with a `RunFileStore` of its own (see the fixture's comment). */
interface Child {
  readonly pid: number;
  readonly process: ChildProcessWithoutNullStreams;
  /** Sends a command; resolves with the child's answer. */
  call(op: string, args?: Record<string, unknown>): Promise<Answer>;
  /** A command that must succeed: its value (undefined for none). */
  ok<T = unknown>(op: string, args?: Record<string, unknown>): Promise<T>;
  /** A command that must fail: the child's error. */
  fails(op: string, args?: Record<string, unknown>): Promise<ChildError>;
  /** Resolves once the child's streams closed (it exited). */
  readonly closed: Promise<void>;
}

/** Every child a test started, killed after it. */
const started: { readonly process: ChildProcess; readonly closed: Promise<void> }[] = [];

/** Starts a child on `dir` (with fsync when asked); resolves once it has imported everything. */
async function startChild(dir: string, fsync = false): Promise<Child> {
  const proc = spawn(process.execPath, [CHILD, dir, ...(fsync ? ["fsync"] : [])], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  let buffer = "";
  let nextId = 0;
  const pending = new Map<number, (answer: Answer) => void>();
  let ready!: () => void;
  let failed!: (err: Error) => void;
  const isReady = new Promise<void>((res, rej) => ((ready = res), (failed = rej)));
  proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  proc.stdout.on("data", (d: Buffer) => {
    buffer += d.toString();
    for (let nl = buffer.indexOf("\n"); nl !== -1; nl = buffer.indexOf("\n")) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      const message = JSON.parse(line) as "ready" | ({ id: number } & Answer);
      if (message === "ready") ready();
      else {
        const resolveAnswer = pending.get(message.id);
        pending.delete(message.id);
        resolveAnswer?.(message.ok ? { ok: true, value: message.value ?? undefined } : message);
      }
    }
  });
  const closed = new Promise<void>((res) => proc.once("close", () => res()));
  void closed.then(() => {
    const gone = new Error(`child ${proc.pid} exited (${proc.exitCode ?? proc.signalCode}): ${stderr}`);
    failed(gone);
    for (const [, resolveAnswer] of pending) resolveAnswer({ ok: false, error: { name: "ChildExited", message: gone.message } });
    pending.clear();
  });
  const call = (op: string, args: Record<string, unknown> = {}) =>
    new Promise<Answer>((res) => {
      const id = nextId++;
      pending.set(id, res);
      proc.stdin.write(`${JSON.stringify({ id, op, ...args })}\n`);
    });
  const child: Child = {
    pid: proc.pid!,
    process: proc,
    call,
    async ok<T>(op: string, args?: Record<string, unknown>) {
      const answer = await call(op, args);
      if (!answer.ok) throw new Error(`${op} in child ${proc.pid} failed: ${answer.error.name}: ${answer.error.message}`);
      return answer.value as T;
    },
    async fails(op: string, args?: Record<string, unknown>) {
      const answer = await call(op, args);
      if (answer.ok) throw new Error(`${op} in child ${proc.pid} succeeded (${JSON.stringify(answer.value)}), and should have failed`);
      return answer.error;
    },
    closed,
  };
  started.push(child);
  await isReady;
  return child;
}

/** Kills `child` with SIGKILL and waits until it is gone (reaped). */
async function killChild(child: Child): Promise<void> {
  child.process.kill("SIGKILL");
  await child.closed;
}

const STARTER = resolve(import.meta.dirname, "fixtures/run-file-starter-child.mjs");

/** A starter child (see its fixture's comment): its stdout as JSON lines, one at a time. */
function startStarter(
  dir: string,
  fsync: boolean,
  runId: string,
  owner: string,
  resumeFile: string,
): { next: () => Promise<unknown>; closed: Promise<void>; pid: number } {
  const proc = spawn(process.execPath, [STARTER, dir, fsync ? "fsync" : "plain", runId, owner, resumeFile], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  let buffer = "";
  const lines: unknown[] = [];
  const waiting: ((line: unknown) => void)[] = [];
  proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  proc.stdout.on("data", (d: Buffer) => {
    buffer += d.toString();
    for (let nl = buffer.indexOf("\n"); nl !== -1; nl = buffer.indexOf("\n")) {
      const line: unknown = JSON.parse(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
      const next = waiting.shift();
      if (next) next(line);
      else lines.push(line);
    }
  });
  const closed = new Promise<void>((res) => proc.once("close", () => res()));
  started.push({ process: proc, closed });
  const next = () =>
    new Promise<unknown>((res, rej) => {
      if (lines.length > 0) return res(lines.shift());
      waiting.push(res);
      void closed.then(() => rej(new Error(`starter ${proc.pid} exited: ${stderr}`)));
    });
  return { next, closed, pid: proc.pid! };
}

afterEach(async () => {
  const children = started.splice(0);
  for (const child of children) if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGKILL");
  await Promise.all(children.map((c) => c.closed));
});

/** A node record written by `who` (its output says so). */
const written = (seq: number, id: string, who: string): JournalRecord => nodeRecord(seq, id, { status: "succeeded", output: who, endedAt: 3_000 + seq });

/** The run as this process's own store object reads it, in the children's terms. */
async function loadHere(dir: string, runId: string): Promise<Loaded | undefined> {
  const store = new RunFileStore({ dir });
  try {
    const loaded = await store.load(runId);
    if (loaded === undefined) return undefined;
    const nodes = [...nodeRecords(loaded.state.nodes)].map(({ id, status, attempts, output }) => ({ id, status, attempts, output }));
    return { seq: loaded.seq, inputs: loaded.state.meta.inputs, nodes };
  } finally {
    await store.close();
  }
}

/** The run's lease as this process's own store object reads it. */
async function leaseHere(dir: string, runId: string): Promise<Lease | undefined> {
  const store = new RunFileStore({ dir });
  try {
    return await store.readLease(runId);
  } finally {
    await store.close();
  }
}

/** The outputs of the run's nodes by id (undefined: not written). */
const outputs = (loaded: Loaded | undefined): Record<string, unknown> => Object.fromEntries((loaded?.nodes ?? []).map((n) => [n.id, n.output]));

const RUN_LOCKED = { name: "RunLockedError", code: "RUN_LOCKED" };
const LEASE_LOST = { name: "LeaseLostError", code: "LEASE_LOST" };

describe("RunFileStore leases across processes", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(root, "store-"));
  });

  it.each([
    ["without fsync", false],
    ["with fsync", true],
  ])("gives a new run to exactly one of six processes racing for it, with token 1, round after round (%s)", { timeout: 60_000 }, async (_how, fsync) => {
    const racers = await Promise.all(["p0", "p1", "p2", "p3", "p4", "p5"].map(() => startChild(dir, fsync)));
    const owners = racers.map((_, i) => `p${i}`);
    for (let round = 0; round < 20; round++) {
      const runId = `race-${round}`;
      // One synchronous loop writes the command to every child: they all start at once.
      const answers = await Promise.all(racers.map((racer, i) => racer.call("acquire", { runId, owner: owners[i] })));
      const report = JSON.stringify(answers);
      const winners = answers.flatMap((a, i) => (a.ok ? [i] : []));
      expect(winners, report).toHaveLength(1);
      const w = winners[0]!;
      const lease = (answers[w] as { value: Lease }).value;
      expect(lease, report).toMatchObject({ runId, owner: owners[w], pid: racers[w]!.pid, token: 1 });
      for (const [i, answer] of answers.entries()) {
        if (i === w) continue;
        expect(answer.ok, report).toBe(false);
        const error = (answer as { error: ChildError }).error;
        expect(error, report).toMatchObject(RUN_LOCKED);
        expect(error.holder, report).toMatchObject({ owner: owners[w], pid: racers[w]!.pid, token: 1 });
      }
      // Everyone else reads the winner's lease, and the winner can start the run.
      expect(await leaseHere(dir, runId)).toEqual(lease);
      await racers[w]!.ok("snapshot", { runId, seq: 0, lease });
      expect((await loadHere(dir, runId))?.seq).toBe(0);
    }
  });

  it.each([
    ["without fsync", false],
    ["with fsync (a preallocated run file)", true],
  ])("lets nobody take a new run whose starter made its file and has not written its lease line yet (%s)", async (_how, fsync) => {
    const taker = await startChild(dir, fsync);
    const runId = "starting";
    const resumeFile = `${dir}.resume`;
    const starter = startStarter(dir, fsync, runId, "starter", resumeFile);
    // The starter made the run file (with fsync, grown with zeros) and stopped before writing its lease line.
    expect(await starter.next()).toMatchObject({ paused: expect.any(Number) as number });
    // The taker asks now; the starter goes on once it has its answer (or after its pause's bound).
    const taken = taker.call("acquire", { runId, owner: "taker" });
    void taken.then(() => writeFileSync(resumeFile, ""));
    const [answer, outcome] = await Promise.all([taken, starter.next()]);
    const report = JSON.stringify({ taker: answer, starter: outcome });
    expect(outcome, report).toMatchObject({ ok: true, paused: true, value: { owner: "starter", pid: starter.pid, token: 1 } });
    expect(answer.ok, report).toBe(false);
    expect((answer as { error: ChildError }).error, report).toMatchObject({ ...RUN_LOCKED, holder: { owner: "starter", token: 1 } });
    expect(await leaseHere(dir, runId)).toMatchObject({ owner: "starter", token: 1 });
  });

  it.each<[string, { now?: number }, { now?: number }]>([
    // The holder's lease expired by every clock: it never trusts its last look, and looks before every write.
    ["expired by every clock", { now: Date.now() - 120_000 }, {}],
    // Expired only by the taker's clock (ahead by two minutes): the holder trusts its looks, for TRUST_MS at most.
    ["expired by the taker's clock", {}, { now: Date.now() + 120_000 }],
  ])(
    "lets another process take over a lease %s from a live holder: token + 1, the old holder fenced off, the state intact",
    async (_how, holderTime, takerTime) => {
      const [holder, taker] = await Promise.all([startChild(dir), startChild(dir)]);
      const runId = "taken";
      const old = await holder.ok<Lease>("acquire", { runId, owner: "old", ...holderTime });
      await holder.ok("snapshot", { runId, seq: 0, lease: old });
      await holder.ok("append", { runId, records: [written(1, "a", "old")], lease: old });
      await holder.ok("append", { runId, records: [written(2, "b", "old")], lease: old });

      // Not expired for a taker whose clock says so: refused.
      if (holderTime.now === undefined) {
        expect(await taker.fails("acquire", { runId, owner: "new" })).toMatchObject({ ...RUN_LOCKED, holder: { owner: "old", token: old.token } });
      }
      // The holder looks at the claim file just before the takeover (a renewal always looks); the taker's acquire
      // returns TRUST_MS after it wrote its claim, so the holder's next write, sent the moment it returns, looks again
      // and is refused (without that wait, it would trust its look and write into the file the taker just replaced).
      const renewed = await holder.ok<Lease>("renew", { lease: old, ttlMs: 60_000, ...holderTime });
      const lease = await taker.ok<Lease>("acquire", { runId, owner: "new", ...takerTime });
      const refused = await holder.fails("append", { runId, records: [written(3, "c", "old")], lease: renewed });
      expect(lease).toMatchObject({ owner: "new", pid: taker.pid, token: old.token + 1 });
      expect(refused).toMatchObject({ ...LEASE_LOST, heldToken: old.token, currentToken: lease.token });
      expect(await leaseHere(dir, runId)).toEqual(lease);

      expect(await holder.fails("snapshot", { runId, seq: 3, inputs: { n: "old" }, lease: old })).toMatchObject(LEASE_LOST);
      expect(await holder.fails("renew", { lease: old, ttlMs: 60_000 })).toMatchObject({ ...RUN_LOCKED, holder: { owner: "new", token: lease.token } });
      // The same owner asking again renews (the contract) while it holds the run; its lease lost, it is refused as
      // anyone is, with RunLockedError naming the holder (the contract's one refusal, and the folder layout's).
      expect(await holder.fails("acquire", { runId, owner: "old" })).toMatchObject({ ...RUN_LOCKED, holder: { owner: "new", token: lease.token } });
      expect(await leaseHere(dir, runId)).toEqual(lease);

      // The taker loads what the old holder wrote before the takeover, and nothing after.
      const seen = await taker.ok<Loaded>("load", { runId });
      expect(seen).toMatchObject({ seq: 2, inputs: { n: 1 } });
      expect(outputs(seen)).toEqual({ a: "old", b: "old", c: undefined });
      await taker.ok("append", { runId, records: [written(3, "c", "new")], lease });
      expect(outputs(await loadHere(dir, runId))).toEqual({ a: "old", b: "old", c: "new" });
      // A compaction by the taker, then more writes; the old holder is still refused.
      await taker.ok("snapshot", { runId, seq: 3, inputs: { n: 2 }, lease });
      await taker.ok("append", { runId, records: [written(4, "a", "new")], lease });
      expect(await holder.fails("append", { runId, records: [written(5, "b", "old")], lease: old })).toMatchObject(LEASE_LOST);
      const final = await loadHere(dir, runId);
      expect(final).toMatchObject({ seq: 4, inputs: { n: 2 } });
      expect(outputs(final)).toEqual({ a: "new", b: undefined, c: undefined });
      expect(await taker.ok("load", { runId })).toEqual(final);
      expect(await leaseHere(dir, runId)).toMatchObject({ owner: "new", token: lease.token });
    },
  );

  it("takes over at once the unexpired lease of a holder SIGKILLed on this host, known by its identity", async () => {
    const [holder, taker] = await Promise.all([startChild(dir), startChild(dir)]);
    const runId = "crashed";
    const old = await holder.ok<Lease>("acquire", { runId, owner: "old", ttlMs: 600_000 });
    // The identity in the request is the holder's own, as processIdentity() reads it in that process.
    const mine = processIdentity();
    expect(old.identity).toEqual({ bootId: mine.bootId, pidNs: mine.pidNs, startTime: startTimeOf(holder.pid) });
    await holder.ok("snapshot", { runId, seq: 0, lease: old });
    await holder.ok("append", { runId, records: [written(1, "a", "old")], lease: old });
    expect(await taker.fails("acquire", { runId, owner: "new" })).toMatchObject({ ...RUN_LOCKED, holder: { owner: "old", pid: holder.pid } });

    await killChild(holder);
    const lease = await taker.ok<Lease>("acquire", { runId, owner: "new" });
    expect(lease).toMatchObject({ owner: "new", pid: taker.pid, token: old.token + 1 });
    expect(old.expiresAt).toBeGreaterThan(Date.now());
    expect(outputs(await taker.ok<Loaded>("load", { runId }))).toEqual({ a: "old", b: undefined, c: undefined });
    await taker.ok("append", { runId, records: [written(2, "b", "new")], lease });
    expect(outputs(await loadHere(dir, runId))).toEqual({ a: "old", b: "new", c: undefined });
  });

  it("does not take over at once a SIGKILLed holder whose request gave no identity: it waits for the lease to expire", async () => {
    const [holder, taker] = await Promise.all([startChild(dir), startChild(dir)]);
    const runId = "crashed";
    const old = await holder.ok<Lease>("acquire", { runId, owner: "old", identity: false });
    expect(old.identity).toBeUndefined();
    await holder.ok("snapshot", { runId, seq: 0, lease: old });
    await killChild(holder);
    expect(await taker.fails("acquire", { runId, owner: "new" })).toMatchObject({ ...RUN_LOCKED, holder: { owner: "old", pid: holder.pid } });
    const lease = await taker.ok<Lease>("acquire", { runId, owner: "new", now: old.expiresAt });
    expect(lease).toMatchObject({ owner: "new", token: old.token + 1 });
  });

  it("never takes over a live holder's unexpired lease, and deletes the run only once it is given back", async () => {
    const [holder, other] = await Promise.all([startChild(dir), startChild(dir)]);
    const runId = "held";
    const lease = await holder.ok<Lease>("acquire", { runId, owner: "holder" });
    await holder.ok("snapshot", { runId, seq: 0, lease });
    await holder.ok("append", { runId, records: [written(1, "a", "holder")], lease });
    for (let attempt = 0; attempt < 3; attempt++) {
      expect(await other.fails("acquire", { runId, owner: `other-${attempt}` })).toMatchObject({
        ...RUN_LOCKED,
        holder: { owner: "holder", pid: holder.pid, token: lease.token },
      });
      expect(await other.fails("delete", { runId })).toMatchObject({ ...RUN_LOCKED, holder: { owner: "holder", pid: holder.pid } });
      // The holder keeps writing: nothing the others tried changed its lease.
      await holder.ok("append", { runId, records: [written(2 + attempt, "b", `holder-${attempt}`)], lease });
    }
    expect(await leaseHere(dir, runId)).toMatchObject({ owner: "holder", token: lease.token });
    expect(await loadHere(dir, runId)).toMatchObject({ seq: 4 });

    await holder.ok("release", { lease });
    expect(await other.ok("readLease", { runId })).toBeUndefined();
    expect(await other.ok("delete", { runId })).toBe(true);
    expect(await other.ok("load", { runId })).toBeUndefined();
    expect(await holder.ok("load", { runId })).toBeUndefined();
    expect(readdirSync(dir)).toEqual([]);
    expect(await other.ok("delete", { runId })).toBe(false);
  });

  it("delivers a cancel request from another process to the holder with that token only, never to a later holder", async () => {
    const [holder, canceller, later] = await Promise.all([startChild(dir), startChild(dir), startChild(dir)]);
    const runId = "cancelled";
    const lease = await holder.ok<Lease>("acquire", { runId, owner: "holder" });
    await holder.ok("snapshot", { runId, seq: 0, lease });
    const request = (token: number, reason: string): CancelRequest => ({ token, reason, at: 1_700_000_000_000 + token });

    // Another token: false, and nothing changes.
    const before = await canceller.ok<Lease>("readLease", { runId });
    expect(await canceller.ok("cancel", { runId, request: request(lease.token + 1, "wrong token") })).toBe(false);
    expect(await canceller.ok("readLease", { runId })).toEqual(before);
    const renewed = await holder.ok<Lease>("renew", { lease, ttlMs: 60_000 });
    expect(renewed.cancelRequested).toBeUndefined();

    // The holder's token: true, and the holder's next renewal carries it (owner, token kept).
    const asked = request(lease.token, "stop, please");
    expect(await canceller.ok("cancel", { runId, request: asked })).toBe(true);
    const told = await holder.ok<Lease>("renew", { lease: renewed, ttlMs: 90_000, now: renewed.expiresAt - 30_000 });
    expect(told).toMatchObject({ owner: "holder", token: lease.token, expiresAt: renewed.expiresAt + 60_000 });
    expect(told.cancelRequested).toEqual(asked);
    // A request is not a takeover: the holder still writes.
    await holder.ok("append", { runId, records: [written(1, "a", "holder")], lease: told });

    // Another token again: false, and the request stays as it was.
    const seen = await canceller.ok<Lease>("readLease", { runId });
    expect(await canceller.ok("cancel", { runId, request: request(lease.token + 7, "wrong again") })).toBe(false);
    expect(await canceller.ok("readLease", { runId })).toEqual(seen);
    expect((await holder.ok<Lease>("renew", { lease: told, ttlMs: 60_000 })).cancelRequested).toEqual(asked);

    // A later holder (after the lease is given back) never sees it.
    await holder.ok("release", { lease: told });
    const next = await later.ok<Lease>("acquire", { runId, owner: "later" });
    expect(next).toMatchObject({ owner: "later", token: lease.token + 1 });
    expect(next.cancelRequested).toBeUndefined();
    expect((await later.ok<Lease>("renew", { lease: next, ttlMs: 60_000 })).cancelRequested).toBeUndefined();
    expect((await canceller.ok<Lease>("readLease", { runId }))?.cancelRequested).toBeUndefined();
    // Nor does a request for the earlier token reach it.
    expect(await canceller.ok("cancel", { runId, request: request(lease.token, "too late") })).toBe(false);
    expect((await later.ok<Lease>("renew", { lease: next, ttlMs: 60_000 })).cancelRequested).toBeUndefined();
    await later.ok("append", { runId, records: [written(2, "b", "later")], lease: next });
  });

  it("never hands a cancel request to the process that took over the run it was for", async () => {
    const [holder, canceller, taker] = await Promise.all([startChild(dir), startChild(dir), startChild(dir)]);
    const runId = "cancelled";
    const lease = await holder.ok<Lease>("acquire", { runId, owner: "holder" });
    await holder.ok("snapshot", { runId, seq: 0, lease });
    const asked: CancelRequest = { token: lease.token, reason: "stop", at: 1_700_000_000_000 };
    expect(await canceller.ok("cancel", { runId, request: asked })).toBe(true);
    // The holder renews once, so the request is in its run file's lease line too.
    const told = await holder.ok<Lease>("renew", { lease, ttlMs: 60_000 });
    expect(told.cancelRequested).toEqual(asked);

    const next = await taker.ok<Lease>("acquire", { runId, owner: "taker", now: told.expiresAt + 1 });
    expect(next).toMatchObject({ owner: "taker", token: lease.token + 1 });
    expect(next.cancelRequested).toBeUndefined();
    expect((await taker.ok<Lease>("renew", { lease: next, ttlMs: 60_000, now: told.expiresAt + 2 })).cancelRequested).toBeUndefined();
    expect((await leaseHere(dir, runId))?.cancelRequested).toBeUndefined();
    expect(await holder.fails("renew", { lease: told, ttlMs: 60_000 })).toMatchObject({ ...RUN_LOCKED, holder: { owner: "taker" } });
  });

  it("shows another process the lease as it is taken, renewed and given back", async () => {
    const [holder, reader] = await Promise.all([startChild(dir), startChild(dir)]);
    const runId = "watched";
    expect(await reader.ok("readLease", { runId })).toBeUndefined();
    const lease = await holder.ok<Lease>("acquire", { runId, owner: "holder", ttlMs: 30_000 });
    expect(await reader.ok("readLease", { runId })).toEqual(lease);

    const renewed = await holder.ok<Lease>("renew", { lease, ttlMs: 90_000, now: lease.expiresAt });
    expect(renewed.expiresAt).toBe(lease.expiresAt + 90_000);
    expect(await reader.ok("readLease", { runId })).toEqual(renewed);

    // Through the run's start and a compaction (a new run file) too.
    await holder.ok("snapshot", { runId, seq: 0, lease: renewed });
    await holder.ok("append", { runId, records: [written(1, "a", "holder")], lease: renewed });
    await holder.ok("snapshot", { runId, seq: 1, inputs: { n: 2 }, lease: renewed });
    expect(await reader.ok("readLease", { runId })).toEqual(renewed);
    const again = await holder.ok<Lease>("renew", { lease: renewed, ttlMs: 60_000, now: renewed.expiresAt });
    expect(await reader.ok("readLease", { runId })).toEqual(again);
    expect(await leaseHere(dir, runId)).toEqual(again);

    await holder.ok("release", { lease: again });
    expect(await reader.ok("readLease", { runId })).toBeUndefined();
    expect(await leaseHere(dir, runId)).toBeUndefined();
    expect(await reader.ok("load", { runId })).toMatchObject({ seq: 1, inputs: { n: 2 } });
  });

  it("only grows tokens: a run given back goes to the next owner with a higher token, and a claim left behind never outranks it", async () => {
    const [first, second, third, canceller] = await Promise.all([startChild(dir), startChild(dir), startChild(dir), startChild(dir)]);
    const runId = "tokens";
    const one = await first.ok<Lease>("acquire", { runId, owner: "first" });
    expect(one.token).toBe(1);
    await first.ok("snapshot", { runId, seq: 0, lease: one });
    await first.ok("release", { lease: one });

    const two = await second.ok<Lease>("acquire", { runId, owner: "second" });
    expect(two.token).toBeGreaterThan(one.token);
    // A claim for the second holder's token, left behind once it gives the run back.
    expect(await canceller.ok("cancel", { runId, request: { token: two.token, reason: "stop", at: 1 } })).toBe(true);
    await second.ok("append", { runId, records: [written(1, "a", "second")], lease: two });
    await second.ok("release", { lease: two });
    expect(existsSync(join(dir, `${runId}.run.claim`))).toBe(true);

    const three = await third.ok<Lease>("acquire", { runId, owner: "third" });
    expect(three.token).toBeGreaterThan(two.token);
    expect(three.cancelRequested).toBeUndefined();
    expect(await leaseHere(dir, runId)).toEqual(three);
    // The third holder's writes and renewals go through: nothing outranks its lease.
    await third.ok("append", { runId, records: [written(2, "b", "third")], lease: three });
    expect(outputs(await loadHere(dir, runId))).toEqual({ a: "second", b: "third", c: undefined });
    await third.ok("snapshot", { runId, seq: 2, inputs: { n: 3 }, lease: three });
    const renewed = await third.ok<Lease>("renew", { lease: three, ttlMs: 60_000 });
    expect(renewed).toMatchObject({ owner: "third", token: three.token });
    expect(renewed.cancelRequested).toBeUndefined();
    // The earlier holders hold nothing.
    expect(await second.fails("append", { runId, records: [written(3, "c", "second")], lease: two })).toMatchObject(LEASE_LOST);
    expect(await first.fails("renew", { lease: one, ttlMs: 60_000 })).toMatchObject({ ...RUN_LOCKED, holder: { owner: "third" } });
    expect(await loadHere(dir, runId)).toMatchObject({ seq: 2, inputs: { n: 3 } });

    await third.ok("release", { lease: renewed });
    const four = await first.ok<Lease>("acquire", { runId, owner: "first-again" });
    expect(four.token).toBeGreaterThan(three.token);
  });

  it("keeps the run whole when a takeover races the holder's compaction, round after round", { timeout: 60_000 }, async () => {
    const [holder, taker] = await Promise.all([startChild(dir), startChild(dir)]);
    for (let round = 0; round < 8; round++) {
      const runId = `compacted-${round}`;
      const old = await holder.ok<Lease>("acquire", { runId, owner: "old" });
      await holder.ok("snapshot", { runId, seq: 0, lease: old });
      await holder.ok("append", { runId, records: [written(1, "a", "old"), written(2, "b", "old")], lease: old });
      // The holder's second snapshot compacts the file under the run's lock while the taker (its clock past the
      // lease's expiry) takes the run over: sent together, in either order.
      const compact = () => holder.call("snapshot", { runId, seq: 2, inputs: { n: "compacted" }, lease: old });
      const takeOver = () => taker.call("acquire", { runId, owner: "new", now: old.expiresAt + 1 });
      const first = round % 2 === 0 ? compact() : takeOver();
      const second = round % 2 === 0 ? takeOver() : compact();
      const [compacted, took] = round % 2 === 0 ? await Promise.all([first, second]) : await Promise.all([second, first]);
      expect(took.ok, JSON.stringify(took)).toBe(true);
      const lease = (took as { value: Lease }).value;
      expect(lease).toMatchObject({ owner: "new", token: old.token + 1 });
      if (!compacted.ok) expect(compacted.error).toMatchObject(LEASE_LOST);

      // The file loads: the compacted snapshot exactly when the compaction went through, else the records.
      const loaded = await taker.ok<Loaded>("load", { runId });
      expect(loaded).toMatchObject({ seq: 2, inputs: compacted.ok ? { n: "compacted" } : { n: 1 } });
      expect(outputs(loaded)).toEqual(compacted.ok ? { a: undefined, b: undefined, c: undefined } : { a: "old", b: "old", c: undefined });
      expect(await leaseHere(dir, runId)).toEqual(lease);
      // The old holder's writes after the takeover are refused; the taker's go through.
      expect(await holder.fails("append", { runId, records: [written(3, "c", "old")], lease: old })).toMatchObject(LEASE_LOST);
      expect(await holder.fails("snapshot", { runId, seq: 3, inputs: { n: "old" }, lease: old })).toMatchObject(LEASE_LOST);
      await taker.ok("append", { runId, records: [written(3, "c", "new")], lease });
      const final = await loadHere(dir, runId);
      expect(final?.seq).toBe(3);
      expect(outputs(final).c).toBe("new");
      // No temp file left, in the temp folder (where compactions and takeovers make them) or beside the run file.
      const temps = existsSync(join(dir, "tmp")) ? readdirSync(join(dir, "tmp")) : [];
      expect(temps.filter((name) => name.startsWith(`${runId}.`))).toEqual([]);
      expect(readdirSync(dir).filter((name) => name.startsWith(`${runId}.`) && name.endsWith(".tmp"))).toEqual([]);
    }
  });
});
