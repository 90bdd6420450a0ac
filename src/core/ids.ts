/**
 * Activation ids: the one module that writes and reads them.
 *
 * Terminology, one word per thing:
 *
 * - **graph node**: a named unit of work in a `TaskGraph` (`fetch`); its id
 *   is the `nodeId`. Node ids never contain `#`.
 * - **run**: one execution of a graph, named by its `runId`, stored in a
 *   `RunStore` and resumable by that id.
 * - **run mark**: a run's random `instance`, made when the run is created
 *   and kept across resumes; it tells the run from an earlier run of the
 *   same id that was deleted (`RunMeta.instance`).
 * - **activation**: one thing the engine starts within a run and records
 *   (one `NodeRecord`, keyed by its activation id). A static node is one
 *   activation whose id is the node id; routing, map and `graphFn` add more.
 * - **visit**: the k-th activation of the same graph node in a routing
 *   graph (a loop goes back to it). Visit 1 is the node id itself (`review`);
 *   visit k ≥ 2 is `review#k` ({@link visitId}).
 * - **element**: activation i of a map node, one per item of its source
 *   array: `resize[i]` ({@link elementId}), or `resize#2[i]` for the
 *   elements of visit 2. The map node's own activation ends when all of
 *   its elements have.
 * - **step**: an activation a `graphFn` body declares at run time with
 *   `ctx.step(id, fn)`; its id is the step id (no `#`), recorded with
 *   `nodeId` equal to it.
 * - **attempt**: one try of an activation's body (retries make more).
 * - **session**: what one process holds while it drives one run: the
 *   lease, the journal, the engine and the state.
 * - **lease**: the store's record that one process owns a run for a while
 *   (renewed, released, or lost), so that two processes never drive the
 *   same run at once.
 *
 * Where an activation is recorded, `NodeRecord.id` is the activation id and
 * `NodeRecord.nodeId` the graph node; prefer them over parsing. A node id
 * may itself end in `[digits]`, so {@link parseElementId} is only meaningful
 * for an id known to be an element; visit suffixes are unambiguous because
 * node ids never contain `#`.
 *
 * @module
 */

/**
 * The activation id of visit `visit` (1-based) of `nodeId`: the node id for
 * visit 1, `nodeId#visit` after.
 *
 * @example
 * ```ts
 * visitId("review", 1); // "review"
 * visitId("review", 3); // "review#3"
 * ```
 */
export function visitId(nodeId: string, visit: number): string {
  return visit === 1 ? nodeId : `${nodeId}#${visit}`;
}

/**
 * The graph node and visit number an activation id names: `review#3` is
 * visit 3 of `review`; an id without a `#k` suffix is visit 1 of itself.
 * Element ids keep their element suffix off the node: `m#2[0]` is visit 2
 * of `m` (use {@link parseElementId} first to split the element off).
 *
 * @example
 * ```ts
 * parseVisitId("review#3"); // { nodeId: "review", visit: 3 }
 * parseVisitId("review");   // { nodeId: "review", visit: 1 }
 * ```
 */
export function parseVisitId(activationId: string): { readonly nodeId: string; readonly visit: number } {
  const m = /#(\d+)$/.exec(activationId);
  return m ? { nodeId: activationId.slice(0, m.index), visit: Number(m[1]) } : { nodeId: activationId, visit: 1 };
}

/**
 * The activation id of element `index` (0-based) of the map activation
 * `mapActivationId`: `resize[4]`, `resize#2[4]`.
 *
 * @example
 * ```ts
 * elementId("resize", 4); // "resize[4]"
 * ```
 */
export function elementId(mapActivationId: string, index: number): string {
  return `${mapActivationId}[${index}]`;
}

/**
 * The map activation and index an element id names, or undefined when the
 * id has no `[index]` suffix. Only meaningful for an id known to be an
 * element (a node id may end in `[digits]` too).
 *
 * @example
 * ```ts
 * parseElementId("resize[4]"); // { mapActivationId: "resize", index: 4 }
 * parseElementId("resize");    // undefined
 * ```
 */
export function parseElementId(activationId: string): { readonly mapActivationId: string; readonly index: number } | undefined {
  const m = /\[(\d+)\]$/.exec(activationId);
  return m ? { mapActivationId: activationId.slice(0, m.index), index: Number(m[1]) } : undefined;
}
