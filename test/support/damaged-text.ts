/**
 * A fast-check arbitrary of a stored file's text damaged the ways a disk
 * or a hand edit damages it: one character replaced, a few removed, one
 * inserted, or the text cut short. The snapshot property tests feed each
 * damaged text to a store and check it loads as it decodes or is refused.
 *
 * @module
 */
import fc from "fast-check";

/** `text` with one damage; `replace` and `insert` are the characters put in (JSON's punctuation and letters it parses). */
export function damagedText(text: string, replace: string, insert: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc.tuple(fc.nat(text.length - 1), fc.constantFrom(...replace)).map(([at, c]) => text.slice(0, at) + c + text.slice(at + 1)),
    fc.tuple(fc.nat(text.length - 1), fc.integer({ min: 1, max: 12 })).map(([at, n]) => text.slice(0, at) + text.slice(at + n)),
    fc.tuple(fc.nat(text.length), fc.constantFrom(...insert)).map(([at, c]) => text.slice(0, at) + c + text.slice(at)),
    fc.nat(text.length - 1).map((at) => text.slice(0, at)),
  );
}
