/**
 * The graph behind the snapshot property tests: a run of it with
 * `continueOnError` and two attempts fails, and stores a `Date` output, an
 * output `undefined`, an attempt log (the first try of "retried" fails)
 * and an error with a cause, so a snapshot of it holds every kind of
 * field a node record can have.
 *
 * @module
 */
import { graph, NonRetryableError } from "../../src/index.js";

/** A fresh graph (its own count of tries, so each run of it fails the same way). */
export function propertyRunGraph() {
  let tries = 0;
  return graph("property")
    .node("date", () => new Date(1_700_000_000_000))
    .node(
      "retried",
      () => {
        tries += 1;
        if (tries === 1) throw new Error("first try fails");
        return { n: 1, list: [1, "two", null] };
      },
      { after: ["date"] },
    )
    .node(
      "failed",
      () => {
        throw new NonRetryableError("it fails", { cause: new TypeError("because") });
      },
      { after: ["date"] },
    )
    .node("nothing", () => undefined)
    .build();
}
