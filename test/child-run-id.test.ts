/**
 * `childRunId` (issue 18 item 1): every derived id passes run-id
 * validation, the same triple always gives the same id, and two different
 * (parent, activation, key) triples never give the same id.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { assertRunId, childRunId } from "../src/index.js";

const runId = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$/).filter((id) => !id.includes(".."));
const field = fc.oneof(
  fc.string({ minLength: 1, maxLength: 100 }),
  fc.stringMatching(/^[a-z_@.#[\]0-9]{1,12}$/),
  fc.constantFrom("_", "__", "@", "_5f", "_z", ".."),
);

describe("childRunId", () => {
  it("reads well for plain names", () => {
    expect(childRunId("nightly", "invoices", "acme")).toBe("nightly@invoices@acme");
    expect(childRunId("nightly", "resize[3]", "v1.2")).toBe("nightly@resize_5b3_5d@v1_2e2");
  });

  it("always passes run-id validation and fits a wait key", () => {
    fc.assert(
      fc.property(runId, field, field, (parent, activation, key) => {
        const id = childRunId(parent, activation, key);
        assertRunId(id);
        expect(id.length).toBeLessThanOrEqual(193);
        expect(childRunId(parent, activation, key)).toBe(id);
      }),
      { numRuns: 2_000 },
    );
  });

  it("never gives two different triples the same id", () => {
    fc.assert(
      fc.property(fc.tuple(runId, field, field), fc.tuple(runId, field, field), (a, b) => {
        fc.pre(a[0] !== b[0] || a[1] !== b[1] || a[2] !== b[2]);
        expect(childRunId(...a)).not.toBe(childRunId(...b));
      }),
      { numRuns: 5_000 },
    );
    // Splits that a naive join would confuse.
    expect(childRunId("a@b", "c", "d")).not.toBe(childRunId("a", "b@c", "d"));
    expect(childRunId("a", "b", "c@d")).not.toBe(childRunId("a", "b@c", "d"));
    expect(childRunId("a", "_", "x")).not.toBe(childRunId("a", "__", "x"));
  });
});
