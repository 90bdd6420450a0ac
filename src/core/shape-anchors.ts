/**
 * Shape anchors: one sample of each object shape that a run makes and
 * that no object outlives the run with, kept alive on purpose so that a
 * full GC between two runs does not throw away the engine's optimized code.
 *
 * Why. V8 gives objects hidden classes ("maps"). An instance of a class
 * gets its map through a chain of transitions from the class's initial
 * map, one per field its initializers and constructor add (a copied
 * object literal likewise from its source's), and V8 holds those
 * transitions weakly: once no object has a map, a full GC frees it (V8
 * keeps the maps of optimized code for a couple of GCs, no longer).
 * Optimized code that checks or builds objects of that map is then thrown
 * away (`--trace-deopt` prints "marking dependent code ... reason: weak
 * objects"), and the next run runs it unoptimized, builds the same maps
 * anew and optimizes the same functions again. Every object of the
 * engine's per-run classes (the scheduler and its parts, the persistence
 * observer, the journal file, the node index) and of its per-attempt ones
 * (an attempt's abort state and context) dies when its run ends, so each
 * run that followed a full GC paid for it: the bench forces one before
 * every round, and a service that starts a run every few seconds gets
 * major GCs in between as well. A 1,000-step chain on `LowdbStore` threw
 * away some 15 optimized functions per GC, and its CPU time per step was
 * about twice that of the same rounds without the GC.
 *
 * The technique. The module that defines such a class passes a sample of
 * it to {@link anchorShape}: a module-level instance (or, for the
 * scheduler, whose sample wires every part of the engine, one made at the
 * first scheduler). The sample keeps its map alive, and with it every map
 * of the chain (a map holds its parent), so the objects of every later
 * run get the same maps and the code built for them stays valid. A sample
 * is made through the constructor a run uses, with dummy values that
 * reference nothing of any run (a few words each, for the life of the
 * process); it is never used.
 *
 * What a sample must match. It anchors the map that real objects have
 * only if it gets the same fields in the same order (an optional field
 * makes a second map, which needs a sample of its own: the context of a
 * map element, say) with values of a compatible kind: where real objects
 * hold numbers that are not small integers (epoch milliseconds), the
 * sample holds such a number too, or V8 moves the real objects to a new
 * map and the sample anchors a deprecated one. Objects of other classes,
 * `undefined` or strings where real objects hold something else only
 * widen the field's recorded type in place, which is harmless.
 *
 * Checking. `bench/probes/shape-anchors.ts` shows whether the maps of
 * the objects a node can reach (its context, its abort state) survive
 * forced GCs between runs. `bench/probes/fsync-gc.ts` run with
 * `--trace-deopt` shows the "weak objects" deopts left after a forced GC
 * (its module comment says how to list them by function); after changing
 * the fields of an anchored class, check that its functions do not come
 * back there. Other
 * deopts came from objects not worth making at all: Node's
 * `queueMicrotask` makes an `AsyncResource` per call (`microtask.ts`).
 *
 * @module
 */

/** The samples (never read: holding them is the point). */
const anchors: object[] = [];

/**
 * Keeps `sample` alive for the life of the process, so that its map (and
 * the maps before it in its chain of transitions) outlives every run's
 * objects. Call it once per anchored shape, next to the class. Returns
 * `sample`.
 *
 * @example
 * ```ts
 * anchorShape(new RecordIterator([[]]));
 * ```
 */
export function anchorShape<T extends object>(sample: T): T {
  anchors.push(sample);
  return sample;
}
