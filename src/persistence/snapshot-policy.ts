/**
 * The snapshot policy of a run (when its state is written) and its check
 * at the boundary. The persistence observer carries it out.
 *
 * @module
 */
import { assertKnownKeys } from "../core/known-keys.js";
import { InvalidOptionError } from "../errors.js";

/**
 * When a run's state is written: `"group"` (group commit, the default),
 * `{ intervalMs }` (at most once per interval) or `"end"` (at start and end only).
 *
 * @example
 * ```ts
 * await runAsync(g, inputs, { snapshot: { intervalMs: 1_000 } });
 * ```
 */
export type SnapshotPolicy = "group" | "end" | { readonly intervalMs: number };

/** The snapshot policy when none is given: group commit. */
export const DEFAULT_SNAPSHOT_POLICY: SnapshotPolicy = "group";

/** Throws {@link InvalidOptionError} unless `policy` is a valid {@link SnapshotPolicy}. */
export function validateSnapshotPolicy(policy: unknown): asserts policy is SnapshotPolicy | undefined {
  if (policy === undefined || policy === "group" || policy === "end") return;
  if (policy !== null && typeof policy === "object") assertKnownKeys("snapshot", policy, ["intervalMs"]);
  const ms = policy !== null && typeof policy === "object" ? (policy as { readonly intervalMs?: unknown }).intervalMs : undefined;
  if (typeof policy === "object" && typeof ms === "number" && Number.isFinite(ms) && ms > 0) return;
  throw new InvalidOptionError("snapshot", `must be "group", "end" or { intervalMs: n } with n > 0 (got ${JSON.stringify(policy)})`);
}
