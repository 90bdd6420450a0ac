/**
 * One agent call of a stage's attempt, as `callAgent` (`agents.ts`) takes
 * it: the run id the agent sees, the attempt and visit, and the attempt's
 * signal, made only when read.
 *
 * @module
 */
import { anchorShape } from "../core/shape-anchors.js";
import type { AgentCall } from "./agents.js";

/** What a call reads of its node attempt's context. */
export interface AttemptOfCall {
  readonly attempt: number;
  readonly visit: number;
  readonly signal: AbortSignal;
}

/**
 * One agent call of a stage's attempt. Its `signal` is the attempt's,
 * made when first read (an AbortController per agent call otherwise): a
 * getter of the class, not of a literal, which V8 11 would turn into a
 * dictionary at each call (docs/architecture.md, "Hidden classes").
 */
export class StageCall implements AgentCall {
  readonly runId: string;
  readonly attempt: number;
  readonly visit: number;
  readonly #ctx: AttemptOfCall;

  constructor(ctx: AttemptOfCall, runId: string) {
    this.runId = runId;
    this.attempt = ctx.attempt;
    this.visit = ctx.visit;
    this.#ctx = ctx;
  }

  get signal(): AbortSignal {
    return this.#ctx.signal;
  }

  static {
    // One per agent call, dead when its task's run ends: its map is anchored (see core/shape-anchors.ts).
    anchorShape(new this({ attempt: 1, visit: 1 } as AttemptOfCall, ""));
  }
}
