/**
 * The wait keys of stage nodes: what a stage waits for, as one string the
 * engine's waits take, and back. `compile-workflow.ts` makes them; the
 * runner's task modules read them to tell a person's action from an agent
 * asked again or a task parked for its agent.
 *
 * @module
 */
/**
 * Wait keys of stage nodes: `act:<stage>:<visit>:<n>` (a person's action),
 * `again:<stage>:<visit>:<n>` (an agent asked again) or
 * `due:<stage>:<visit>:<n>` (parked at an agent stage: due for its agent,
 * in a runner that serves the stage, or for a queue worker's answer).
 */
export interface StageKey {
  readonly kind: "act" | "again" | "due";
  readonly stageId: string;
  readonly visit: number;
  readonly n: number;
}

/** The wait key for `key`. */
export function stageKey(key: StageKey): string {
  return `${key.kind}:${key.stageId}:${key.visit}:${key.n}`;
}

/** Reads a wait key made by {@link stageKey}; undefined for any other key. */
export function parseStageKey(key: string): StageKey | undefined {
  // The stage id may hold ":" (any name is a stage id): the visit and number are the last two parts.
  const m = /^(act|again|due):(.+):(\d+):(\d+)$/.exec(key);
  if (!m) return undefined;
  return { kind: m[1] as StageKey["kind"], stageId: m[2] as string, visit: Number(m[3]), n: Number(m[4]) };
}
