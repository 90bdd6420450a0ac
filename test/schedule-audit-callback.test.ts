/**
 * `signBody` and `verifySignature` at the boundary: a body that is not the
 * raw text or bytes (a parsed JSON object, the usual mistake with
 * `express.json()`), a secret that is not a string, or a clock without
 * `now()` is an `InvalidOptionError` that says what to pass, never a raw
 * `TypeError` from `crypto`.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidOptionError, signBody, verifySignature } from "../src/index.js";

const notABody = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.integer(),
  fc.boolean(),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue(), { maxKeys: 3 }),
  fc.array(fc.integer(), { maxLength: 3 }),
);

function outcome(f: () => unknown): unknown {
  try {
    return f();
  } catch (err) {
    return err;
  }
}

describe("callback signatures given the wrong types", () => {
  it("property: verifySignature of a body that is not a string or bytes is an InvalidOptionError naming body", () => {
    const header = signBody("{}", "s3cret");
    fc.assert(
      fc.property(notABody, (body) => {
        const err = outcome(() => verifySignature(body as never, header, "s3cret"));
        expect(err).toBeInstanceOf(InvalidOptionError);
        expect((err as Error).message).toContain("raw request body");
      }),
    );
  });

  it("property: signBody of a body or secret of the wrong type is an InvalidOptionError", () => {
    fc.assert(
      fc.property(notABody, fc.boolean(), (wrong, inBody) => {
        const err = outcome(() => (inBody ? signBody(wrong as never, "s3cret") : signBody("{}", wrong as never)));
        expect(err).toBeInstanceOf(InvalidOptionError);
      }),
    );
  });

  it("a clock without now() is an InvalidOptionError naming clock", () => {
    const header = signBody("{}", "s3cret");
    for (const clock of [5, null, {}, "now"]) {
      const err = outcome(() => verifySignature("{}", header, "s3cret", { clock: clock as never }));
      expect(err).toBeInstanceOf(InvalidOptionError);
      expect((err as Error).message).toContain("clock");
    }
  });

  it("the raw body, as text or bytes, still verifies", () => {
    const header = signBody('{"a":1}', "s3cret");
    expect(verifySignature('{"a":1}', header, "s3cret")).toBe(true);
    expect(verifySignature(Buffer.from('{"a":1}'), header, "s3cret")).toBe(true);
    expect(verifySignature('{"a":2}', header, "s3cret")).toBe(false);
  });
});
