/**
 * Options of `Scheduler` and `schedule()` given values of the wrong type:
 * refused where they are given with an `InvalidOptionError` naming the
 * option, never a raw `TypeError` (or a silent acceptance that breaks the
 * scheduler's loop later).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  InvalidOptionError,
  ManualClock,
  MemoryStore,
  Scheduler,
  TaskloomError,
  getSchedule,
  graph,
  listSchedules,
  removeSchedule,
  schedule,
} from "../src/index.js";

const g = graph("audit-options")
  .node("work", () => 1)
  .build();

/** Anything but an object with a clock's methods (or undefined, the default). */
const notAClock = fc.oneof(
  fc.constant(null),
  fc.integer(),
  fc.string(),
  fc.boolean(),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }),
  fc.constant({ now: () => 0 }),
);
/** Anything that is not an object (nor undefined). */
const notAnObject = fc.oneof(fc.constant(null), fc.integer(), fc.double(), fc.string(), fc.boolean(), fc.bigInt());

function refusal(make: () => unknown): unknown {
  try {
    make();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe("Scheduler options of the wrong type", () => {
  it("property: runOptions that is not an object is an InvalidOptionError naming it", () => {
    fc.assert(
      fc.property(fc.oneof(notAnObject, fc.array(fc.integer(), { maxLength: 2 })), (runOptions) => {
        const err = refusal(() => new Scheduler({ store: new MemoryStore(), runOptions: runOptions as never }));
        expect(err).toBeInstanceOf(InvalidOptionError);
        expect((err as InvalidOptionError).message).toContain("runOptions");
      }),
    );
  });

  it("property: graphs that is not an array or an object is an InvalidOptionError naming it", () => {
    fc.assert(
      fc.property(notAnObject, (graphs) => {
        const err = refusal(() => new Scheduler({ store: new MemoryStore(), graphs: graphs as never }));
        expect(err).toBeInstanceOf(InvalidOptionError);
        expect((err as InvalidOptionError).message).toContain("graphs");
      }),
    );
  });

  it("property: a clock without now(), setTimeout() and clearTimeout() is an InvalidOptionError naming it", () => {
    fc.assert(
      fc.property(notAClock, (clock) => {
        const err = refusal(() => new Scheduler({ store: new MemoryStore(), graphs: [g], clock: clock as never }));
        expect(err).toBeInstanceOf(InvalidOptionError);
        expect((err as InvalidOptionError).message).toContain("clock");
      }),
    );
  });

  it("a ManualClock and the default are accepted", () => {
    expect(() => new Scheduler({ store: new MemoryStore(), graphs: [g], clock: new ManualClock() })).not.toThrow();
    expect(() => new Scheduler({ store: new MemoryStore(), graphs: { g }, runOptions: {} })).not.toThrow();
  });
});

describe("schedule() options of the wrong type", () => {
  it("property: a clock without a clock's methods is an InvalidOptionError naming it", async () => {
    await fc.assert(
      fc.asyncProperty(notAClock, async (clock) => {
        const err = await schedule(g, {}, { when: "1h", store: new MemoryStore(), clock: clock as never }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(InvalidOptionError);
        expect((err as InvalidOptionError).message).toContain("clock");
      }),
      { numRuns: 50 },
    );
  });
});

describe("listSchedules({ status }) of the wrong type", () => {
  it("property: anything but a status or an array of statuses is an InvalidOptionError naming status", async () => {
    const store = new MemoryStore();
    await schedule(g, {}, { when: "1h", store });
    const wrong = fc.oneof(
      fc.constant(null),
      fc.integer(),
      fc.boolean(),
      fc.bigInt(),
      fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }),
      fc.array(fc.oneof(fc.integer(), fc.bigInt(), fc.constant(null), fc.string({ maxLength: 3 })), { minLength: 1, maxLength: 3 }),
    );
    await fc.assert(
      fc.asyncProperty(wrong, async (status) => {
        const err = await listSchedules({ store, status: status as never }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(InvalidOptionError);
        expect((err as InvalidOptionError).message).toContain("status");
      }),
    );
  });
});

/** Values that break `String()` or `JSON.stringify()`: a null-prototype object, a bigint, an object whose toString throws. */
const awkward = fc.oneof(
  fc.constant(Object.create(null) as unknown),
  fc.bigInt(),
  fc.constant({
    toString(): string {
      throw new Error("no text");
    },
  }),
  fc.anything(),
);

describe("schedule() and getSchedule() given values that have no text", () => {
  it("property: every option and id is refused with a typed error, never a raw TypeError", async () => {
    const store = new MemoryStore();
    const place = fc.constantFrom("id", "catchUp", "every", "times", "when", "until", "getSchedule", "removeSchedule");
    await fc.assert(
      fc.asyncProperty(place, awkward, async (where, value) => {
        const attempt = (): Promise<unknown> => {
          switch (where) {
            case "getSchedule":
              return getSchedule(value as never, { store });
            case "removeSchedule":
              return removeSchedule(value as never, { store });
            case "every":
            case "times":
            case "until":
              return schedule(g, {}, { when: "1h", store, repeat: { every: "1h", [where]: value } });
            default:
              return schedule(g, {}, { when: "1h", store, [where]: value });
          }
        };
        const err = await attempt().then(
          () => undefined,
          (e: unknown) => e,
        );
        if (err !== undefined) expect(err).toBeInstanceOf(TaskloomError);
      }),
      { numRuns: 300 },
    );
  });
});
