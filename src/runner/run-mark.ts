/**
 * The one check behind every call that names a run by its mark
 * (`resolveWait`'s and `cancelRun`'s `instance`, a delivery to a run
 * driven here): the run found under the id must be the run with that
 * mark, else the caller meant a run that was deleted, and the one found is
 * a later run of the id.
 *
 * @module
 */
import type { RunMeta } from "../state/records.js";
import { RunNotFoundError } from "./errors.js";

/** Throws `RunNotFoundError` (with `mark`) when `mark` is given and `meta` is of another run of `runId` (another mark, or none). */
export function assertMarkedRun(runId: string, meta: Pick<RunMeta, "instance"> | undefined, mark: string | undefined): void {
  if (mark !== undefined && meta?.instance !== mark) throw new RunNotFoundError(runId, mark);
}
