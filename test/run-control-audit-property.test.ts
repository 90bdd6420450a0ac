/**
 * Audit properties over the large input spaces of the run control API's
 * time inputs: retry options as a caller may write them (NaN, Infinity,
 * negative, fractional, strings in the wrong unit, beyond what a timer
 * holds), what a run's `random` returns, and child run keys with any
 * UTF-16 text. Each property failed on the code before its fix.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidOptionError, assertRunId, backoffDelay, childRunId, resolveRetryPolicy, shouldRetry, type RetryOptions } from "../src/index.js";

const MAX_TIMER_MS = 2 ** 31 - 1;

/** A number as callers get them wrong, or right. */
const anyNumber = fc.oneof(
  fc.constantFrom(NaN, Infinity, -Infinity, -1, 0, 0.5, 1, 2, 1e300, MAX_TIMER_MS, MAX_TIMER_MS + 1),
  fc.double(),
  fc.integer({ min: -10, max: 1_000_000 }),
  fc.constantFrom("5s", "100", null, true) as fc.Arbitrary<unknown>,
);
const maybe = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });

const retryOptions: fc.Arbitrary<RetryOptions> = fc.record(
  {
    maxAttempts: maybe(anyNumber),
    timeoutMs: maybe(anyNumber),
    backoff: maybe(
      fc.record({ initialMs: maybe(anyNumber), factor: maybe(anyNumber), maxMs: maybe(anyNumber), jitter: maybe(fc.boolean()) }, { requiredKeys: [] }),
    ),
  },
  { requiredKeys: [] },
) as fc.Arbitrary<RetryOptions>;

/** Retry options run() accepts. */
const validRetry: fc.Arbitrary<RetryOptions> = fc.record({
  maxAttempts: fc.integer({ min: 1, max: 1_000 }),
  backoff: fc.record({
    initialMs: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1e300, noNaN: true })),
    factor: fc.double({ min: 1, max: 1e6, noNaN: true }),
    maxMs: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1e300, noNaN: true })),
    jitter: fc.boolean(),
  }),
});

function thrown(f: () => unknown): unknown {
  try {
    f();
    return undefined;
  } catch (e) {
    return e;
  }
}

describe("retry policy inputs (property)", () => {
  it("resolveRetryPolicy either refuses options with InvalidOptionError or gives a policy whose every delay is a number", () => {
    fc.assert(
      fc.property(maybe(retryOptions), maybe(retryOptions), maybe(anyNumber), fc.integer({ min: 1, max: 10_000 }), (run, node, timeoutMs, attempt) => {
        let policy;
        try {
          policy = resolveRetryPolicy(run, node, timeoutMs as number | undefined);
        } catch (e) {
          expect(e).toBeInstanceOf(InvalidOptionError);
          return;
        }
        expect(Number.isInteger(policy.maxAttempts) && policy.maxAttempts >= 1).toBe(true);
        const { initialMs, maxMs, factor, jitter } = policy.backoff;
        for (const ms of [initialMs, maxMs]) expect(typeof ms === "number" && Number.isFinite(ms) && ms >= 0).toBe(true);
        expect(typeof factor === "number" && Number.isFinite(factor) && factor >= 1).toBe(true);
        expect(typeof jitter).toBe("boolean");
        if (policy.timeoutMs !== undefined) expect(policy.timeoutMs > 0 && policy.timeoutMs <= MAX_TIMER_MS).toBe(true);
        const delay = backoffDelay(policy, attempt, () => 0.5);
        expect(Number.isFinite(delay) && delay >= 0 && delay <= maxMs + 0.5).toBe(true);
        expect(typeof shouldRetry(policy, new Error("x"), attempt)).toBe("boolean");
      }),
      { numRuns: 2_000 },
    );
  });

  it("backoffDelay is a number within the policy's bounds for a random in [0, 1], and refuses any other random with InvalidOptionError", () => {
    const random = fc.oneof(
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double(),
      fc.constantFrom(undefined, null, "0.5", 1.0000001) as fc.Arbitrary<unknown>,
    );
    fc.assert(
      fc.property(validRetry, fc.integer({ min: 1, max: 2 ** 31 }), random, (options, attempt, r) => {
        const policy = resolveRetryPolicy(options);
        const { initialMs, maxMs, factor, jitter } = policy.backoff;
        const inRange = typeof r === "number" && r >= 0 && r <= 1;
        const error = thrown(() => backoffDelay(policy, attempt, () => r as number));
        if (jitter && !inRange) {
          expect(error).toBeInstanceOf(InvalidOptionError);
          expect((error as InvalidOptionError).option).toBe("random");
          return;
        }
        expect(error).toBeUndefined();
        const delay = backoffDelay(policy, attempt, () => r as number);
        const nominal = initialMs === 0 ? 0 : Math.min(maxMs, initialMs * factor ** (attempt - 1));
        expect(Number.isFinite(delay)).toBe(true);
        expect(delay).toBeLessThanOrEqual(nominal + 0.5);
        expect(delay).toBeGreaterThanOrEqual(jitter ? nominal / 2 - 0.5 : nominal);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe("childRunId over any UTF-16 text (property)", () => {
  /** Text with lone surrogates (and U+FFFD, what a lone surrogate encodes to) among ordinary characters. */
  const text = fc
    .array(
      fc.oneof(
        fc.string({ unit: "binary", maxLength: 3 }),
        fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
        fc.constant("\uFFFD"),
      ),
      {
        minLength: 1,
        maxLength: 6,
      },
    )
    .map((parts) => parts.join(""))
    .filter((s) => s.length > 0);

  it("gives two different (activation, key) pairs two different valid run ids", () => {
    fc.assert(
      fc.property(fc.tuple(text, text), fc.tuple(text, text), ([a1, k1], [a2, k2]) => {
        fc.pre(a1 !== a2 || k1 !== k2);
        const one = childRunId("parent", a1, k1);
        const two = childRunId("parent", a2, k2);
        assertRunId(one);
        assertRunId(two);
        expect(one).not.toBe(two);
      }),
      { numRuns: 5_000 },
    );
  });
});
