/**
 * The run id of a child run (`ctx.run`): `<parent>@<activation>@<key>`,
 * the activation and the key escaped so that neither contains `@` and
 * every character is one a run id allows (`_` escapes: `__` for `_`,
 * `_HH` for each UTF-8 byte of any other character outside
 * `A-Z a-z 0-9 - :`, so no `..` either; `_uHHHH` for a lone surrogate,
 * which has no UTF-8 bytes of its own: encoded, every one was U+FFFD's,
 * so two keys that differ only there named one child). Read from the
 * right, the last two `@` fields are the activation and the key, so two
 * different (parent, activation, key) triples never give the same id
 * (`_u` is no hex digit: no escape reads as another). An id that would be longer than
 * {@link MAX_CHILD_RUN_ID} characters is `<parent prefix>@_z<hash>` (a
 * SHA-256 of the triple): `_z` never starts an escaped field, so the two
 * forms never meet.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { assertRunId } from "../core/run-id.js";
import { valueText } from "../core/text.js";
import { InvalidOptionError } from "../errors.js";

/**
 * The longest child run id: leaves room for the `$child:` prefix of the
 * parent's wait on it within the 200 characters of a wait key.
 */
export const MAX_CHILD_RUN_ID = 193;

/** The key prefix of the wait a parent's activation parks on while its child run waits (the engine refuses it in a user's `waitFor`). */
export { CHILD_WAIT_PREFIX } from "../engine/waits.js";

const PLAIN = /[A-Za-z0-9:-]/;
/** A code point of a string that is one half of a surrogate pair (`for…of` yields a lone one by itself). */
const LONE_SURROGATE = /^[\uD800-\uDFFF]$/;

function escapeField(text: string): string {
  let out = "";
  for (const ch of text) {
    if (ch === "_") out += "__";
    else if (PLAIN.test(ch)) out += ch;
    else if (LONE_SURROGATE.test(ch)) out += `_u${ch.charCodeAt(0).toString(16)}`;
    else for (const byte of Buffer.from(ch, "utf8")) out += `_${byte.toString(16).padStart(2, "0")}`;
  }
  return out;
}

/**
 * The run id of the child that activation `activationId` of run
 * `parentRunId` starts with `key` (see the module comment). Throws
 * `InvalidRunIdError` for a parent that is not a valid run id and
 * `InvalidOptionError` for an activation id or key that is not a string.
 *
 * @example
 * ```ts
 * childRunId("nightly", "invoices", "acme"); // "nightly@invoices@acme"
 * childRunId("nightly", "resize[3]", "v1.2"); // "nightly@resize_5b3_5d@v1_2e2"
 * ```
 */
export function childRunId(parentRunId: string, activationId: string, key: string): string {
  assertRunId(parentRunId);
  if (typeof activationId !== "string") throw new InvalidOptionError("activationId", `of childRunId must be a string (got ${valueText(activationId)})`);
  if (typeof key !== "string") throw new InvalidOptionError("key", `of childRunId must be a string (got ${valueText(key)})`);
  const id = `${parentRunId}@${escapeField(activationId)}@${escapeField(key)}`;
  if (id.length <= MAX_CHILD_RUN_ID) return id;
  const hash = createHash("sha256")
    .update(JSON.stringify([parentRunId, activationId, key]))
    .digest("hex")
    .slice(0, 40);
  const hashed = `${parentRunId.slice(0, MAX_CHILD_RUN_ID - hash.length - 3)}@_z${hash}`;
  assertRunId(hashed);
  return hashed;
}
