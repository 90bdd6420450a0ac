/**
 * The one duration grammar (src/core/duration.ts): everything the CLI's
 * parser and the schedule's parser accepted before is accepted, with the
 * same value, and what both refused is still refused.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration, parseDurationText } from "../src/core/duration.js";

/** The CLI's grammar before unification: no inner spaces, lower-case units. */
function oldCli(text: string): number | undefined {
  const s = text.trim();
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/y;
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
  let total = 0;
  let matched = false;
  while (part.lastIndex < s.length) {
    const m = part.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * unit[m[2] as keyof typeof unit];
    matched = true;
  }
  return matched && Number.isFinite(total) ? total : undefined;
}

/** The schedule's grammar before unification: any case, spaces between a number and its unit. */
function oldSchedule(text: string): number | undefined {
  const s = text.trim().toLowerCase();
  if (s.length === 0) return undefined;
  const part = /(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)/y;
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
  let total = 0;
  while (part.lastIndex < s.length) {
    const m = part.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * unit[m[2] as keyof typeof unit];
  }
  return Number.isFinite(total) ? total : undefined;
}

const piece = fc.tuple(
  fc.oneof(
    fc.nat({ max: 1000 }).map(String),
    fc.tuple(fc.nat({ max: 99 }), fc.nat({ max: 99 })).map(([a, b]) => `${a}.${b}`),
  ),
  fc.constantFrom("", " ", "  ", "\t"),
  fc.constantFrom("ms", "s", "m", "h", "d", "w", "MS", "Ms", "S", "M", "H", "D", "W"),
);
const text = fc.oneof(
  fc
    .tuple(fc.constantFrom("", " "), fc.array(piece, { minLength: 1, maxLength: 4 }), fc.constantFrom("", " "))
    .map(([lead, parts, trail]) => lead + parts.map(([n, sp, u]) => n + sp + u).join("") + trail),
  fc.string({ maxLength: 12 }),
  fc.constantFrom("", "30", "d", "30 days", "-1d", "1d 2h", "1y", "soon", "1h 30m", "in 5 minutes"),
);

describe("one duration grammar", () => {
  it("accepts everything either old parser accepted, with the same value, and refuses what both refused", () => {
    fc.assert(
      fc.property(text, (t) => {
        const before = oldCli(t) ?? oldSchedule(t);
        expect(parseDurationText(t)).toBe(before);
        // eslint-disable-next-line @typescript-eslint/no-unsafe-argument -- vitest types its asymmetric matchers (expect.any, objectContaining, stringMatching) as any
        if (before === undefined) expect(() => parseDuration(t, "--x")).toThrow(expect.objectContaining({ code: "INVALID_OPTION" }));
        else expect(parseDuration(t, "--x")).toBe(before);
      }),
      { numRuns: 500, seed: 15 },
    );
  });

  it("takes a space between a number and its unit and any case, but not a space between parts", () => {
    expect(parseDuration("1 H")).toBe(3_600_000);
    expect(parseDuration(" 1h30M ")).toBe(5_400_000);
    expect(parseDurationText("1h 30m")).toBeUndefined();
    expect(() => parseDuration("1d 2h", "--older-than")).toThrow(
      // eslint-disable-next-line @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers (expect.any, objectContaining, stringMatching) as any
      expect.objectContaining({ code: "INVALID_OPTION", message: expect.stringContaining("--older-than") }),
    );
  });

  it("formats for people", () => {
    expect(formatDuration(1_250)).toBe("1.25s");
  });
});
