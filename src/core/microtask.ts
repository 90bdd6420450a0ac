/**
 * A microtask without Node's per-call bookkeeping.
 *
 * Node's `queueMicrotask` wraps each callback in a new `AsyncResource`
 * (an async id, a trigger id, a bound function) so that async hooks can
 * follow it. The engine queues one or two microtasks per chain step (the
 * slot queue's next start, the group commit's write), so that object is
 * paid on every step: a resolved promise's `then` costs about half as
 * much. It also costs optimized code: those resources are the only
 * objects of their shape, so a full GC between two runs frees the shape
 * and V8 throws away every optimized function that inlined
 * `queueMicrotask` (`reason: weak objects`; see `shape-anchors.ts`).
 *
 * Timing is the same: both run the callback in the same microtask queue,
 * in the order queued, after the current synchronous code. So is the
 * async context (`AsyncLocalStorage`): a promise reaction runs in the
 * context where `then` was called, as the resource did. One difference:
 * a callback that throws becomes an unhandled rejection rather than an
 * uncaught exception (both end the process under Node's defaults), so
 * only callbacks that do not throw belong here.
 *
 * @module
 */

const resolved = Promise.resolve();

/**
 * Runs `callback` in a microtask, as `queueMicrotask` does, without
 * creating an `AsyncResource` per call. `callback` must not throw.
 *
 * @example
 * ```ts
 * enqueueMicrotask(() => queue.pump());
 * ```
 */
export function enqueueMicrotask(callback: () => void): void {
  void resolved.then(callback);
}
