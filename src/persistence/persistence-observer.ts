/**
 * Why this file is long (about 630 lines, a sixth of them this comment):
 * it is one state machine, the write path of a run. Group commit, the
 * compaction threshold, the run's start and end with their base, the
 * sticky failure, the barrier waiters and the writes-per-turn count all
 * read and change the same few fields (the pending records, the write in
 * flight, the generation counters, the records since the last snapshot,
 * the records written since the base); split across files they would have
 * to share them, and the ordering argument below (a stored run is always a
 * prefix of its history) would no longer be checkable in one place. What
 * stands alone is elsewhere: the policy type and its validation
 * (`snapshot-policy.ts`) and the comparisons with the base (`base-diff.ts`).
 *
 * The persistence observer: it receives every node transition of a run
 * (through the engine's {@link RunJournal} port: the engine hands it each
 * changed record), and
 * saves the run through a {@link RunStore} under a {@link SnapshotPolicy}.
 *
 * Writes are journal appends in order, so what is stored is always a
 * consistent prefix of the run's history. A full snapshot replaces the
 * journal when a new run starts, when a run stops with a long journal (see
 * below), and whenever the journal holds
 * more records than twice the run's current number of activations (at
 * least 1,024; map elements and graphFn steps count, so a run that grows
 * while it runs raises its own threshold): snapshot cost is O(activations)
 * but happens once per O(activations) records, so the cost per transition
 * stays constant whatever the run's size. A resumed run starts with
 * {@link PersistenceObserver.start} given the state it was loaded as: only
 * the node records that changed since (the ones reset to run again) and
 * the run meta are appended, so starting a resume costs what it changes,
 * not the run's size (a full snapshot is written instead when the node set
 * changed, or when so much changed that compaction is due anyway).
 *
 * A run stops with {@link PersistenceObserver.finish}. While the store
 * provably replays to the run's final state from a known base (the state
 * a resume was loaded as, or the snapshot {@link PersistenceObserver.start}
 * wrote) plus the records this observer appended, and the journal stays
 * short, the end is appended too (the last node records, the run meta and
 * the summary's node counts) instead of a snapshot that would write every
 * node again: "short" is the compaction threshold for a run that
 * succeeded (a later load replays no more than a crash at that point could
 * have left), and a quarter of its activations for one that stopped
 * unfinished (failed, cancelled, waiting: it is meant to be loaded again,
 * and the snapshot spares that load the replay). So a new run of the
 * default policy that succeeds writes one snapshot, at its start, and
 * appends the rest. Tracking the base costs a map entry per activation
 * appended; it is dropped (the run then ends with a snapshot, as a long run
 * does) past {@link MAX_BASE_ACTIVATIONS}, so memory stays bounded at a
 * million nodes, and under the `"end"` policy a new run keeps none (its end
 * would append the whole run).
 *
 * The comparisons of the current state with the base (what changed since
 * it, whether the store replays to the current state) are pure functions
 * in `base-diff.ts`: by position when the tables share an id index, so a
 * 10,000-node resume that ran 1,000 of them costs no 10,000 lookups.
 *
 * Policies:
 * - `"group"` (default): group commit. Records are written as soon as the
 *   current write finishes; everything recorded meanwhile shares the next
 *   write. `barrier()` resolves once every record made before it is
 *   stored, and the scheduler awaits it before starting a succeeded
 *   node's dependents: a result is durable before anything uses it. A
 *   write nobody waits for starts on the next turn of the event loop (the
 *   whole turn's records share it); one a barrier waits for starts in a
 *   microtask, and at most 1,024 writes follow one another without a turn
 *   between them, so a long chain on a store that writes in microtasks
 *   still lets timers (lease renewal) in.
 * - `{ intervalMs }`: at most one write per interval; `barrier()` does
 *   not wait. A crash may lose up to one interval of results (those nodes
 *   run again on resume).
 * - `"end"`: written only when the run starts and stops.
 *
 * A store failure is sticky: every later `barrier()` and `flush()`
 * rejects with {@link PersistenceError}, and the runner fails the run; the
 * last good snapshot stays readable. Every write carries the driver's
 * lease (fencing); a write the store refuses because the run was taken
 * over fails the same way with the store's `LeaseLostError` itself.
 *
 * @module
 */
import { LeaseLostError, PersistenceError, ValueNotStorableError } from "../engine/errors.js";
import type { RunJournal } from "../engine/journal-port.js";
import { RunEvents } from "../events/run-events.js";
import { systemClock, type Clock, type TimerHandle } from "../core/clock.js";
import { enqueueMicrotask } from "../core/microtask.js";
import { anchorShape } from "../core/shape-anchors.js";
import type { RunState } from "../state/run-state.js";
import type { JournalRecord } from "../state/records.js";
import type { NodeRecord } from "../state/records.js";
import { nodeCount } from "../state/node-table.js";
import type { NodeCounts, NodeTally } from "../state/run-summary.js";
import { changedSince, replaysTo } from "./base-diff.js";
import type { Lease, RunStore } from "./run-store.js";
import { storable } from "./replay.js";
import { DEFAULT_SNAPSHOT_POLICY, type SnapshotPolicy } from "./snapshot-policy.js";
import { MemoryStore } from "./memory-store.js";

const MIN_COMPACT_RECORDS = 1_024;
/**
 * {@link PersistenceObserver.finish} of a run that stops unfinished (it is
 * meant to be loaded again) appends instead of writing a snapshot when the
 * journal (since the snapshot, the final records included) holds at most
 * this share of the run's activations: replaying it on the next load then
 * costs less than writing the snapshot now.
 */
const FINISH_BY_JOURNAL_SHARE = 0.25;
/**
 * The most activations the base of {@link PersistenceObserver.finish}'s
 * append is tracked for: a new run with more keeps no base, and once
 * records of more activations than this were appended, the base is dropped.
 * So the tracking holds at most this many map entries (about 30 bytes
 * each) and the base's own records (a new run's pending ones), a few
 * megabytes whatever the run's size, where a million-node run would keep
 * a million of each. Past it the end is a snapshot, whose cost (about a
 * microsecond per activation) is then a small share of the run's own.
 */
export const MAX_BASE_ACTIVATIONS = 65_536;

/** At most this many writes follow one another without a turn of the event loop between them; the next waits for a turn. */
const WRITES_PER_TURN = 1_024;

/** Waits until the records put before generation `gen` are durable; `done` is called once, with the store's failure if it failed. */
interface Waiter {
  readonly gen: number;
  readonly done: (failure?: Error) => void;
}

/** Saves one run's transitions to a store. */
export class PersistenceObserver implements RunJournal {
  readonly #store: RunStore;
  readonly #runId: string;
  readonly #policy: SnapshotPolicy;
  readonly #clock: Clock;
  readonly #events: RunEvents;
  readonly #getState: () => RunState;
  readonly #lease: Lease | undefined;
  #seq: number;
  /** Counts put() calls; a barrier waits until the calls before it are durable. */
  #gen = 0;
  #durableGen = 0;
  /** The latest record of each activation changed since the last write, in the order they first changed. */
  #dirty = new Map<string, NodeRecord>();
  /** True when a dirty record asked for a write of its own. */
  #urgent = false;
  #sinceSnapshot = 0;
  #compactAt: number;
  #writing: Promise<void> | undefined;
  /** The turn's write ({@link PersistenceObserver.#scheduleWrite}) while it is due. */
  #scheduled: NodeJS.Immediate | undefined;
  /** True while a microtask to write for a barrier is due. */
  #writeDue = false;
  /** Writes started since a write last waited for a turn of the event loop ({@link WRITES_PER_TURN}). */
  #writesThisTurn = 0;
  #timer: TimerHandle | undefined;
  #lastWriteAt = Number.NEGATIVE_INFINITY;
  #waiters: Waiter[] = [];
  /** Waiters whose records are durable, called once no write is in flight ({@link PersistenceObserver.#callDue}). */
  #due: Waiter[] = [];
  #failure: PersistenceError | LeaseLostError | ValueNotStorableError | undefined;
  /**
   * A state the store holds plus only journal records this observer wrote
   * since (`#written`): a resumed run's state as loaded, or the snapshot
   * {@link PersistenceObserver.start} wrote. Cleared by any other full
   * snapshot, and past {@link MAX_BASE_ACTIVATIONS}.
   */
  #base: RunState | undefined;
  /**
   * The base's number of activations, counted when it became the base: its
   * table's id index is shared with the later states of the run and grows
   * with them (`appendNodes`), so its size is not the base's.
   */
  #baseCount = 0;
  /** The latest record of each activation this observer appended since `#base`. */
  readonly #written = new Map<string, NodeRecord>();

  /**
   * @param options.getState returns the run's current state (for full snapshots)
   * @param options.seq the last sequence number already stored
   * @param options.lease the driver's lease, passed with every write so the store can fence it
   * @param options.journalRecords the journal records the store holds after its snapshot (`StoredRun.journalRecords`)
   */
  constructor(options: {
    store: RunStore;
    runId: string;
    policy: SnapshotPolicy | undefined;
    clock: Clock;
    events: RunEvents;
    getState: () => RunState;
    seq: number;
    nodeCount: number;
    lease?: Lease | undefined;
    journalRecords?: number | undefined;
  }) {
    this.#store = options.store;
    this.#runId = options.runId;
    this.#policy = options.policy ?? DEFAULT_SNAPSHOT_POLICY;
    this.#clock = options.clock;
    this.#events = options.events;
    this.#getState = options.getState;
    this.#seq = options.seq;
    this.#lease = options.lease;
    this.#compactAt = Math.max(MIN_COMPACT_RECORDS, 2 * options.nodeCount);
    this.#sinceSnapshot = options.journalRecords ?? 0;
  }

  /** The sequence number of the last record made. */
  get seq(): number {
    return this.#seq;
  }

  put(record: NodeRecord, urgent = true): void {
    this.#gen += 1;
    // The record may be newer than `getState()`'s: a journal append needs no commit of the state.
    this.#dirty.set(record.id, record);
    if (this.#failure || !urgent) return;
    this.#urgent = true;
    if (this.#policy === "group") this.#scheduleWrite();
    else if (typeof this.#policy === "object") this.#scheduleIntervalWrite(this.#policy.intervalMs);
  }

  revise(record: NodeRecord): void {
    if (this.#dirty.has(record.id)) this.#dirty.set(record.id, record);
  }

  barrier(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#policy !== "group" || this.#durableGen >= this.#gen) return Promise.resolve();
    // What is pending may all be non-urgent: the barrier makes it urgent.
    this.#urgent = true;
    this.#writeForBarrier();
    return new Promise<void>((resolve, reject) =>
      this.#waiters.push({ gen: this.#gen, done: (failure) => (failure === undefined ? resolve() : reject(failure)) }),
    );
  }

  whenDurable(done: (failure?: Error) => void): void {
    const failure = this.#failure;
    if (failure) {
      queueMicrotask(() => done(failure));
      return;
    }
    if (this.#policy !== "group" || this.#durableGen >= this.#gen) {
      enqueueMicrotask(done);
      return;
    }
    // As barrier(): what is pending may all be non-urgent, and someone waits for it now.
    this.#urgent = true;
    this.#writeForBarrier();
    this.#waiters.push({ gen: this.#gen, done });
  }

  /**
   * Writes a full snapshot of the current state now (after any write in
   * progress), whatever the policy: at run start, at status changes, at the end.
   */
  snapshot(): Promise<void> {
    return this.#fullSnapshot(false);
  }

  /** {@link PersistenceObserver.snapshot}; with `asBase`, the state written becomes the base of {@link PersistenceObserver.finish}'s append (when its size allows). */
  async #fullSnapshot(asBase: boolean): Promise<void> {
    const gen = await this.#settleWrites();
    this.#forgetBase();
    await this.#run(async () => {
      const state = this.#getState();
      await this.#store.writeSnapshot(state, this.#seq, this.#lease);
      this.#sinceSnapshot = 0;
      const count = asBase ? nodeCount(state.nodes) : 0;
      if (asBase && count <= MAX_BASE_ACTIVATIONS) {
        this.#base = state;
        this.#baseCount = count;
      }
      this.#durable(gen, 0, true);
    });
  }

  /**
   * Saves the run as it stops (its final status and fields are in the
   * state). While a base is kept (a resumed run's loaded state, or the
   * snapshot a new run started with), it appends what is not stored yet
   * (the pending node records, then the run meta, with the final node
   * counts for the summary) instead of rewriting the whole run: the store
   * replays to the very same state, at a cost of O(records) instead of
   * O(run). That path is taken only when every current record is provably
   * what the store replays to (the base's record, the latest one appended,
   * or one pending now: records are immutable, so identity tells), no base
   * activation is gone, and the journal stays short: within the compaction
   * threshold for a run that succeeded, within `FINISH_BY_JOURNAL_SHARE`
   * (a quarter) of the run's activations for one that stopped unfinished;
   * otherwise a full snapshot ({@link PersistenceObserver.snapshot}).
   *
   * Crash safety is an append's: a crash during it loses at most this
   * append (the run then reads as it was before it stopped, as when a
   * crash interrupts a snapshot), never an earlier record.
   */
  async finish(): Promise<void> {
    if (this.#base === undefined) return this.snapshot();
    if (this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    while (this.#writing) await this.#writing.catch(() => undefined);
    this.#cancelTurnWrite();
    if (this.#failure) throw this.#failure;
    const state = this.#getState();
    const counts: NodeTally = { nodeCount: 0, settledCount: 0, succeededCount: 0, failedCount: 0 };
    const tail = this.#finalTail(state, counts);
    if (tail === undefined) return this.snapshot();
    const gen = this.#gen;
    this.#dirty.clear();
    this.#urgent = false;
    await this.#run(async () => {
      const records: JournalRecord[] = [];
      for (const node of tail) records.push({ kind: "node", seq: ++this.#seq, node: storable(node) });
      records.push({ kind: "run", seq: ++this.#seq, run: state.meta });
      this.#remember(tail);
      await this.#store.append(this.#runId, records, this.#lease, counts);
      this.#sinceSnapshot += records.length;
      this.#durable(gen, records.length, false);
    });
  }

  /**
   * The pending records that make the store replay to `state`, or undefined
   * when appending them cannot (see {@link PersistenceObserver.finish});
   * counts `state`'s activations into `counts` on the way (as `countNodes`).
   */
  #finalTail(state: RunState, counts: NodeTally): NodeRecord[] | undefined {
    const base = this.#base;
    if (base === undefined || !replaysTo(state.nodes, base.nodes, this.#baseCount, this.#dirty, this.#written, counts)) return undefined;
    // A succeeded run may end with any journal #drain could have appended without compacting; an unfinished one is loaded again, and its replay is spared.
    const limit = state.meta.status === "succeeded" ? Math.max(MIN_COMPACT_RECORDS, 2 * counts.nodeCount) : FINISH_BY_JOURNAL_SHARE * counts.nodeCount;
    if (this.#sinceSnapshot + this.#dirty.size + 1 > limit) return undefined;
    return [...this.#dirty.values()];
  }

  /** Keeps `records` as appended, while there is a base ({@link PersistenceObserver.finish}); drops the base past {@link MAX_BASE_ACTIVATIONS}. */
  #remember(records: Iterable<NodeRecord>): void {
    if (this.#base === undefined) return;
    for (const node of records) this.#written.set(node.id, node);
    if (this.#written.size > MAX_BASE_ACTIVATIONS) this.#forgetBase();
  }

  /** A full snapshot replaces what the store holds: the base is no base any more. */
  #forgetBase(): void {
    this.#base = undefined;
    this.#written.clear();
  }

  /**
   * Saves the run as it starts running. Without `stored`, a full snapshot
   * ({@link PersistenceObserver.snapshot}), kept as the base of
   * {@link PersistenceObserver.finish}'s append (except under the `"end"`
   * policy, whose end would append the whole run, and past 65,536
   * activations, `MAX_BASE_ACTIVATIONS`). With `stored`, the state the run
   * was loaded as (the store holds it: its snapshot and journal replay to
   * it), only what differs from it is appended: every node record that is
   * not the very record loaded (records are immutable, so identity tells),
   * then the run meta. The store then replays to the current state, as
   * after a snapshot, at a cost of O(changed records) instead of O(run).
   * A full snapshot is written instead (and kept as the base, as above) when
   * a stored node is gone (the journal cannot remove one) or when the
   * records would make compaction due.
   * `counts`, the node counts of the state as it starts, go to the run's
   * summary with the run meta (without them, the store keeps the last
   * snapshot's).
   */
  async start(stored?: RunState, counts?: NodeCounts): Promise<void> {
    const changed = stored === undefined ? undefined : this.#changedSince(stored);
    if (stored === undefined || changed === undefined) return this.#fullSnapshot(this.#policy !== "end");
    const gen = await this.#settleWrites();
    const state = this.#getState();
    this.#base = stored;
    this.#baseCount = nodeCount(stored.nodes);
    this.#written.clear();
    await this.#run(async () => {
      const records: JournalRecord[] = [];
      this.#remember(changed);
      for (const node of changed) records.push({ kind: "node", seq: ++this.#seq, node: storable(node) });
      records.push({ kind: "run", seq: ++this.#seq, run: state.meta });
      await this.#store.append(this.#runId, records, this.#lease, counts);
      this.#sinceSnapshot += records.length;
      this.#durable(gen, records.length, false);
    });
  }

  /** The current node records that are not `stored`'s, or undefined when a full snapshot is the better write (see {@link PersistenceObserver.start}). */
  #changedSince(stored: RunState): NodeRecord[] | undefined {
    const changed = changedSince(this.#getState().nodes, stored.nodes);
    if (changed === undefined || this.#sinceSnapshot + changed.length + 1 > this.#compactAt) return undefined;
    return changed;
  }

  /** Waits for the write in progress and takes everything recorded so far as included in the next write; returns its generation. */
  async #settleWrites(): Promise<number> {
    if (this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    while (this.#writing) await this.#writing.catch(() => undefined);
    this.#cancelTurnWrite();
    if (this.#failure) throw this.#failure;
    const gen = this.#gen;
    this.#dirty.clear();
    this.#urgent = false;
    return gen;
  }

  /**
   * Group commit: the write starts on the next turn of the event loop, so
   * every transition made in this turn (node bodies that settle in
   * microtasks can be thousands) shares one state update and one write.
   * A barrier does not wait for that turn ({@link PersistenceObserver.#writeForBarrier}).
   */
  #scheduleWrite(): void {
    if (this.#scheduled !== undefined || this.#writing) return;
    this.#scheduled = setImmediate(this.#writeNextTurn);
  }

  /**
   * Drops the turn's write when the caller writes everything now (a
   * snapshot, the start's or the end's append). Besides a write of
   * nothing, a due immediate holds this observer, its run's state and its
   * session until the loop turns: a stage runner's sweep on `MemoryStore`
   * runs task after task in microtasks, so without this every finished
   * task's run stayed alive until the sweep ended.
   */
  #cancelTurnWrite(): void {
    if (this.#scheduled === undefined) return;
    clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
  }

  readonly #writeNextTurn = (): void => {
    this.#scheduled = undefined;
    this.#writesThisTurn = 0;
    this.#drain();
  };

  /**
   * A barrier waits: the write starts in a microtask, once the code that
   * called the barrier has made its other changes, instead of on the next
   * turn. Someone waits for it, so a turn's worth of batching is not worth
   * the wait: each step of a chain would otherwise cost a turn of the
   * event loop. Batching still happens: what is recorded while a write is
   * in flight goes with the next. After {@link WRITES_PER_TURN} such
   * writes in one turn (a long chain whose store writes in microtasks,
   * `MemoryStore`) the next waits for the next turn, so timers and I/O
   * (lease renewal) still get their turn.
   */
  #writeForBarrier(): void {
    if (this.#writeDue || this.#writing) return;
    if (this.#writesThisTurn >= WRITES_PER_TURN) {
      this.#scheduleWrite();
      return;
    }
    this.#writeDue = true;
    enqueueMicrotask(this.#writeNow);
  }

  readonly #writeNow = (): void => {
    this.#writeDue = false;
    this.#drain();
  };

  #scheduleIntervalWrite(intervalMs: number): void {
    if (this.#timer !== undefined || this.#writing) return;
    const wait = Math.max(0, this.#lastWriteAt + intervalMs - this.#clock.now());
    this.#timer = this.#clock.setTimeout(
      () => {
        this.#timer = undefined;
        this.#drain();
      },
      wait,
      "snapshot interval write",
    );
  }

  /**
   * Starts the next write of what is dirty, unless one is in flight (it
   * starts the next itself when it ends), nothing is dirty or urgent, or
   * the store failed. Under `"group"` a write that ends starts the next
   * at once while something urgent waits; under an interval, the next
   * waits for its time. Plain callbacks rather than an async loop: a
   * chain makes one write per step, and its promises are most of a
   * `MemoryStore` write's cost.
   */
  #drain(): void {
    if (this.#dirty.size === 0 || !this.#urgent || this.#writing || this.#failure) return;
    if (this.#policy === "group") this.#urgent = false;
    this.#writesThisTurn += 1;
    const ids = this.#dirty;
    this.#dirty = new Map();
    const gen = this.#gen;
    let compact = this.#sinceSnapshot + ids.size > this.#compactAt;
    if (compact) {
      // The run may have grown (map elements, graphFn steps) since the threshold was set.
      this.#compactAt = Math.max(MIN_COMPACT_RECORDS, 2 * this.#getState().nodes.index.size);
      compact = this.#sinceSnapshot + ids.size > this.#compactAt;
    }
    let write: Promise<void>;
    let records = 0;
    try {
      if (compact) {
        this.#forgetBase();
        write = this.#store.writeSnapshot(this.#getState(), this.#seq, this.#lease);
      } else {
        // Sized up front: a chain's write holds one record, and an empty array's first push allocates room for 17.
        const journal = new Array<JournalRecord>(ids.size);
        let k = 0;
        for (const node of ids.values()) journal[k++] = { kind: "node", seq: ++this.#seq, node: storable(node) };
        this.#remember(ids.values());
        records = journal.length;
        write = this.#store.append(this.#runId, journal, this.#lease);
      }
    } catch (error) {
      write = Promise.reject(error);
    }
    this.#writing = write.then(
      () => {
        if (compact) this.#sinceSnapshot = 0;
        else this.#sinceSnapshot += records;
        this.#wrote();
        try {
          this.#durable(gen, ids.size, compact);
        } catch (error) {
          // As when the write itself fails (a throwing snapshot listener, say): nothing may escape into a rejection nobody handles.
          this.#failed(error);
          return;
        }
        this.#callDue();
        if (typeof this.#policy === "object") {
          if (this.#dirty.size > 0) this.#scheduleIntervalWrite(this.#policy.intervalMs);
        } else if (this.#writesThisTurn >= WRITES_PER_TURN) this.#scheduleWrite();
        else this.#drain();
      },
      (error: unknown) => {
        this.#failed(error);
        this.#wrote();
      },
    );
  }

  /** A write ended (stored or failed): none is in flight now. */
  #wrote(): void {
    this.#writing = undefined;
    // Only an interval policy spaces its writes (a clock read per write is a chain step's worth of time otherwise).
    if (typeof this.#policy === "object") this.#lastWriteAt = this.#clock.now();
  }

  /** The store failed: the failure is sticky, and every barrier waiting now or later rejects with it. */
  #failed(error: unknown): PersistenceError | LeaseLostError | ValueNotStorableError {
    // A lost lease (the run was taken over) and a value the serializer refused are not disk problems: they keep their own type.
    this.#failure ??= error instanceof LeaseLostError || error instanceof ValueNotStorableError ? error : new PersistenceError(this.#runId, error);
    const failure = this.#failure;
    // In a microtask, as a rejected barrier's awaiter goes on: the run stops there, not inside this write's handler.
    for (const w of this.#waiters) queueMicrotask(() => w.done(failure));
    this.#waiters = [];
    return failure;
  }

  async #run(write: () => Promise<void>): Promise<void> {
    const p = write().catch((error: unknown) => {
      throw this.#failed(error);
    });
    this.#writing = p;
    try {
      await p;
    } finally {
      this.#wrote();
      this.#callDue();
    }
  }

  #durable(gen: number, records: number, full: boolean): void {
    this.#durableGen = Math.max(this.#durableGen, gen);
    if (this.#events.has("snapshot")) {
      this.#events.emit("snapshot", { runId: this.#runId, at: this.#clock.now(), status: this.#getState().meta.status, records, full });
    }
    const waiters = this.#waiters;
    const n = waiters.length;
    if (n === 0) return;
    // Called at once when no write is in flight (a group commit's own write ended), else once it is over (#callDue).
    const now = this.#writing === undefined;
    let keep = 0;
    for (let i = 0; i < n; i++) {
      const w = waiters[i]!;
      if (w.gen > this.#durableGen) waiters[keep++] = w;
      else if (now) w.done();
      else this.#due.push(w);
    }
    // Waiters added by the callbacks (a node they started waits in turn) follow.
    for (let i = n; i < waiters.length; i++) waiters[keep++] = waiters[i]!;
    waiters.length = keep;
  }

  /**
   * Calls the waiters whose records are durable, once the write that made
   * them so is no longer in flight: a `whenDurable` callback runs at once
   * and may start nodes whose barriers must see no write in flight, or
   * they would wait for one that never starts.
   */
  #callDue(): void {
    while (this.#due.length > 0) {
      const due = this.#due;
      this.#due = [];
      for (const w of due) w.done();
    }
  }
}

// One observer per run, dead when the run ends: its map is anchored (see core/shape-anchors.ts). The sample never writes.
anchorShape(
  new PersistenceObserver({
    store: new MemoryStore(),
    runId: "",
    policy: undefined,
    clock: systemClock,
    events: new RunEvents(),
    getState: () => {
      throw new Error("taskloom internal error: a shape sample was used");
    },
    seq: 0,
    nodeCount: 0,
  }),
);
