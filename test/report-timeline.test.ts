/**
 * The report's timeline model (src/cli/report-timeline.ts), pure: the
 * span the header and the axis share, the processes and the gaps between
 * them, every attempt of a node (an interrupted one cut off where its
 * process was last seen) and its waits; and, over random runs, that every
 * bar lies within the span and no gap overlaps a process.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { timelineHtml, timelineOf } from "../src/cli/report-timeline.js";
import type { AttemptRecord, NodeRecord, RunDetails } from "../src/index.js";

const base: RunDetails = {
  runId: "r",
  graphName: "g",
  fingerprint: "f".repeat(64),
  status: "succeeded",
  inputs: null,
  createdAt: 1_000,
  updatedAt: 9_000,
  startedAt: 7_000,
  endedAt: 9_000,
  starts: 2,
  waits: [],
  nodes: [],
};

describe("timelineOf", () => {
  it("spans every process, cuts a crashed attempt where its process was last seen, and keeps the gap", () => {
    const nodes: NodeRecord[] = [
      { id: "a", nodeId: "a", status: "succeeded", attempts: 1, startedAt: 1_000, endedAt: 2_000 },
      {
        id: "b",
        nodeId: "b",
        status: "succeeded",
        attempts: 1,
        startedAt: 7_000,
        endedAt: 8_000,
        attemptLog: [
          { startedAt: 1_000, endedAt: 1_500, outcome: "failed", error: { name: "Error", message: "flaky" } },
          { startedAt: 2_500, outcome: "interrupted" },
        ],
      },
      {
        id: "c",
        nodeId: "c",
        status: "succeeded",
        attempts: 1,
        startedAt: 8_000,
        endedAt: 9_000,
        waits: { k: { since: 8_100, resolved: { payload: 1, at: 8_600 } } },
      },
    ];
    const t = timelineOf({ ...base, nodes, sessions: [{ startedAt: 1_000 }, { startedAt: 7_000, endedAt: 9_000 }] }, 10_000);
    expect([t.start, t.end]).toEqual([1_000, 9_000]);
    expect(t.processes).toEqual([
      { start: 1_000, end: 2_500, stopped: false },
      { start: 7_000, end: 9_000, stopped: true },
    ]);
    expect(t.gaps).toEqual([{ start: 2_500, end: 7_000 }]);
    const b = t.rows.find((r) => r.node.id === "b");
    expect(b?.attempts.map((a) => [a.number, a.outcome, a.start, a.end])).toEqual([
      [1, "failed", 1_000, 1_500],
      [2, "interrupted", 2_500, 2_500],
      [3, "succeeded", 7_000, 8_000],
    ]);
    expect(t.rows.find((r) => r.node.id === "c")?.waits).toEqual([{ key: "k", start: 8_100, end: 8_600, resolved: true }]);
    const html = timelineHtml(t);
    expect(html).toContain('title="b attempt 1: failed 1970-01-01');
    expect(html).toContain("— Error: flaky");
    expect(html.match(/class="gap"/g)).toHaveLength(4); // the processes row and each of the three node rows
  });

  it("runs to now while the run is live, and an open wait of a waiting node with it", () => {
    const nodes: NodeRecord[] = [{ id: "w", nodeId: "w", status: "waiting", attempts: 1, startedAt: 2_000, waits: { k: { since: 2_100 } } }];
    const t = timelineOf({ ...base, status: "running", endedAt: undefined, startedAt: 2_000, nodes, sessions: [{ startedAt: 2_000 }] }, 5_000);
    expect([t.start, t.end]).toEqual([2_000, 5_000]);
    expect(t.rows[0]?.attempts[0]).toMatchObject({ start: 2_000, end: 5_000, outcome: "waiting" });
    expect(t.rows[0]?.waits[0]).toMatchObject({ start: 2_100, end: 5_000, resolved: false });
  });
});

const attempt: fc.Arbitrary<AttemptRecord> = fc
  .record({
    startedAt: fc.integer({ min: 0, max: 10_000 }),
    length: fc.option(fc.integer({ min: 0, max: 2_000 }), { nil: undefined }),
    outcome: fc.constantFrom("failed", "cancelled", "interrupted", "suspended" as const),
  })
  .map(({ startedAt, length, outcome }) => ({ startedAt, outcome, ...(length !== undefined && { endedAt: startedAt + length }) }));

const node: fc.Arbitrary<NodeRecord> = fc
  .record({
    id: fc.string({ minLength: 1, maxLength: 6 }),
    status: fc.constantFrom("pending", "running", "succeeded", "failed", "waiting", "cancelled" as const),
    start: fc.option(fc.integer({ min: 0, max: 10_000 }), { nil: undefined }),
    length: fc.option(fc.integer({ min: 0, max: 2_000 }), { nil: undefined }),
    log: fc.array(attempt, { maxLength: 4 }),
  })
  .map(({ id, status, start, length, log }) => ({
    id,
    nodeId: id,
    status,
    attempts: log.length + 1,
    ...(start !== undefined && { startedAt: start }),
    ...(start !== undefined && length !== undefined && { endedAt: start + length }),
    ...(log.length > 0 && { attemptLog: log }),
  }));

describe("timelineOf over random runs", () => {
  it("stretches the axis to a process's recorded stop, so a bar cut off there fits (found by the property below)", () => {
    const nodes: NodeRecord[] = [{ id: " ", nodeId: " ", status: "pending", attempts: 1, startedAt: 0 }];
    const t = timelineOf({ ...base, status: "running", nodes, sessions: [{ startedAt: 0, endedAt: 1 }], endedAt: undefined }, 0);
    expect(t.end).toBe(1);
    for (const bar of t.rows[0]?.attempts ?? []) expect(bar.end).toBeLessThanOrEqual(t.end);
  });

  it("keeps every bar within the span and every gap between two processes", () => {
    fc.assert(
      fc.property(
        fc.array(node, { maxLength: 8 }),
        fc.array(fc.record({ startedAt: fc.integer({ min: 0, max: 12_000 }), stop: fc.option(fc.integer({ min: 0, max: 3_000 }), { nil: undefined }) }), {
          maxLength: 4,
        }),
        fc.constantFrom("running", "succeeded", "failed", "waiting" as const),
        fc.integer({ min: 0, max: 20_000 }),
        (nodes, raw, status, now) => {
          const sessions = raw
            .map((s) => ({ startedAt: s.startedAt, ...(s.stop !== undefined && { endedAt: s.startedAt + s.stop }) }))
            .sort((a, b) => a.startedAt - b.startedAt);
          const t = timelineOf({ ...base, status, nodes, sessions, endedAt: status === "running" ? undefined : 12_000 }, now);
          expect(t.end).toBeGreaterThanOrEqual(t.start);
          for (const row of t.rows) {
            for (const bar of [...row.attempts, ...row.waits]) {
              expect(bar.start).toBeGreaterThanOrEqual(t.start);
              expect(bar.end).toBeLessThanOrEqual(t.end);
              expect(bar.end).toBeGreaterThanOrEqual(bar.start);
            }
          }
          for (const gap of t.gaps) {
            expect(gap.end).toBeGreaterThan(gap.start);
            for (const p of t.processes) expect(gap.end <= p.start || gap.start >= p.end).toBe(true);
          }
          expect(() => timelineHtml(t)).not.toThrow();
        },
      ),
    );
  });
});
