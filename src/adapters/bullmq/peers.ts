/**
 * Whether the optional peers of `taskloom/bullmq` (`bullmq`, `ioredis`)
 * can be found from here, asked without loading them (a resolve through
 * `createRequire`, which finds the same package folder an import would): `entry.ts` checks
 * before it imports the adapter, whose static imports of the peers would
 * otherwise fail with a bare `ERR_MODULE_NOT_FOUND`.
 *
 * @module
 */

import { createRequire } from "node:module";

/** The peer packages the adapter imports. */
export const BULLMQ_PEERS = ["bullmq", "ioredis"] as const;

/**
 * The peers that cannot be resolved from this module's folder (as the
 * adapter's own imports would resolve them), in {@link BULLMQ_PEERS} order.
 *
 * @example
 * ```ts
 * missingPeers(); // [] when installed, ["bullmq"] when only ioredis is
 * ```
 */
export function missingPeers(): string[] {
  const require = createRequire(import.meta.url);
  return BULLMQ_PEERS.filter((name) => {
    try {
      require.resolve(name);
      return false;
    } catch (err) {
      // Found, but without a CommonJS entry: present all the same.
      return (err as NodeJS.ErrnoException).code === "MODULE_NOT_FOUND";
    }
  });
}
