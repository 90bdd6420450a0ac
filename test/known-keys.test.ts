/** The did-you-mean hint of core/known-keys.ts (an internal pure module). */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { closest, unknownKeyProblems } from "../src/core/known-keys.js";

describe("closest", () => {
  const keys = ["after", "retry", "timeoutMs", "routes", "maxVisits", "maxConcurrency", "numRetries", "start", "title"];

  it.each([
    ["timeoutMS", "timeoutMs"],
    ["maxVisit", "maxVisits"],
    ["strat", "start"],
    ["titel", "title"],
    ["numRetry", "numRetries"],
    ["retries", "retry"],
    ["concurrency", "maxConcurrency"],
  ])("%s suggests %s", (word, hint) => {
    expect(closest(word, keys)).toBe(hint);
  });

  it.each(["bogus", "x", "schedule", "maxWidth"])("%s suggests nothing", (word) => {
    expect(closest(word, keys)).toBeUndefined();
  });

  it("a known key with two neighbours swapped, one letter dropped, or another case suggests that key", () => {
    fc.assert(
      fc.property(fc.constantFrom(...keys), fc.nat(), (key, at) => {
        const i = at % (key.length - 1);
        const swapped = key.slice(0, i) + key[i + 1] + key[i] + key.slice(i + 2);
        expect(closest(swapped, keys)).toBe(key);
        expect(closest(key.slice(0, i) + key.slice(i + 1), keys)).toBe(key);
        expect(closest(key.toUpperCase(), keys)).toBe(key);
      }),
      { numRuns: 100 },
    );
  });
});

describe("unknownKeyProblems", () => {
  it("lists every unknown key, each with its hint", () => {
    expect(unknownKeyProblems('stage "a"', { id: 1, titel: 2, bogus: 3 }, ["id", "title"], "field")).toEqual([
      'stage "a": unknown field "titel" (did you mean "title"?); known fields: id, title',
      'stage "a": unknown field "bogus"; known fields: id, title',
    ]);
    expect(unknownKeyProblems("", { a: 1 }, [])).toEqual(['unknown option "a"; it takes no options']);
  });
});
