/**
 * Matching a run summary against a {@link RunQuery}, shared by every store.
 *
 * @module
 */
import type { RunSummary } from "../state/records.js";
import type { RunQuery } from "./run-store.js";

/** True when `summary` passes `query`. */
export function matchesQuery(summary: RunSummary, query: RunQuery): boolean {
  if (query.status === undefined) return true;
  const wanted = typeof query.status === "string" ? [query.status] : query.status;
  return wanted.includes(summary.status);
}
