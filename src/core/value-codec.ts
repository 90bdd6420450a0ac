/**
 * Whether a value can be stored exactly: the engine asks before it records
 * a node's output, a step's result or a wait's payload. It sits in the
 * ground layer (with the codec in `stored-codec.ts`) because it has no
 * persistence concern: it walks a value, it writes nothing. Persistence's
 * `serialization.ts` writes and reads values with the same codec.
 *
 * @module
 */
import { checkDurable } from "./durable-value.js";

export { checkDurable, type Durability } from "./durable-value.js";

/**
 * True when `value` survives {@link serialize} and {@link deserialize}
 * exactly (read back `util.isDeepStrictEqual` to it) and is not over the
 * size limit. Never throws: a value whose getters throw is not durable.
 * Cost: one walk over the value.
 */
export function isDurable(value: unknown): boolean {
  try {
    return checkDurable(value).ok;
  } catch {
    return false;
  }
}
