/**
 * The port through which a node starts a child run (`ctx.run`): the engine
 * hands the request to the function the runner plugs in
 * (`SchedulerConfig.childRuns`) and knows nothing of stores or sessions.
 * The runner derives the child's run id from the parent's, the activation
 * and the key, drives or resumes the child, and parks the attempt on a
 * wait (`waitFor`) while the child waits for events.
 *
 * @module
 */

/** One `ctx.run(graph, inputs, options)` call, as the runner receives it. */
export interface ChildRunRequest {
  /** The parent run. */
  readonly parentRunId: string;
  /** The parent's activation that calls `ctx.run` (a node, a visit, an element or a graphFn step). */
  readonly activationId: string;
  /** What to run (a graph, builder, graphFn or function: checked by the runner). */
  readonly graph: unknown;
  readonly inputs: unknown;
  /** The call's options (checked by the runner). */
  readonly options: unknown;
  /** The attempt's signal: aborted, the child is cancelled. */
  readonly signal: AbortSignal;
  /**
   * Parks the attempt on wait `key` of the parent run (`ctx.waitFor`), holding no concurrency slot. Call it
   * inside `openChildRunWait` (waits.ts): only then is a `$child:` key accepted.
   */
  readonly waitFor: (key: string) => Promise<unknown>;
}

/** Runs (or resumes) a child run and resolves to its outputs. */
export type ChildRunner = (request: ChildRunRequest) => Promise<unknown>;
