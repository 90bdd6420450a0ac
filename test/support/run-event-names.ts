/**
 * Every run event's name (`RunEventMap`'s keys), for tests that listen to
 * them all. Typed against the map both ways: a name added to the map and
 * not here fails to compile.
 */
import type { RunEventName } from "../../src/index.js";

const NAMES = {
  "run:start": true,
  "node:start": true,
  "node:retry": true,
  "node:success": true,
  "node:error": true,
  "node:skip": true,
  "node:wait": true,
  "node:event": true,
  warning: true,
  "run:waiting": true,
  "run:success": true,
  "run:error": true,
  "run:cancel": true,
  snapshot: true,
} satisfies Record<RunEventName, true>;

/** Every run event's name. */
export const RUN_EVENT_NAMES = Object.keys(NAMES) as readonly RunEventName[];
