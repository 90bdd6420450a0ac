/**
 * Errors of a graph's definition and of the node contract: a graph that is
 * not well formed ({@link GraphDefinitionError}), values that fail a
 * validator ({@link InputValidationError}), and the error a node body (or
 * graph code acting for one) throws to stop retrying ({@link NonRetryableError}).
 * They live in the graph layer because graph code throws them; the engine,
 * the runner and the stages, above it, import them from here.
 *
 * @module
 */
import { TaskloomError } from "../errors.js";
import { listText } from "../core/text.js";

/** How many problems (or issues) an error's message lists; the error's array holds them all. */
const SHOWN_PROBLEMS = 20;

/**
 * The graph is not well formed: a duplicate id, an unknown dependency, a
 * cycle, a node that is not a function. Raised by `build()`, before anything runs.
 *
 * @example
 * ```ts
 * graph("g").node("a", f, { after: ["nope" as never] }).build(); // throws GraphDefinitionError
 * ```
 */
export class GraphDefinitionError extends TaskloomError {
  /** Each problem found, one sentence each. */
  readonly problems: readonly string[];

  constructor(graphName: string, problems: readonly string[]) {
    super(
      "GRAPH_DEFINITION",
      `graph "${graphName}" is not valid: ${listText(problems, SHOWN_PROBLEMS, "; ", "the error's problems")}. Fix the graph definition; nothing was run.`,
    );
    this.problems = problems;
  }
}

/** One problem found by an input validator. */
export interface ValidationIssue {
  /** Where in the value the problem is (`[]` for the value itself). */
  readonly path: readonly (string | number)[];
  /** What is wrong. */
  readonly message: string;
}

/**
 * The graph's inputs (or another value checked at the boundary) failed
 * validation. Nothing was run.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof InputValidationError) for (const i of e.issues) console.log(i.path, i.message) }
 * ```
 */
export class InputValidationError extends TaskloomError {
  /** Every problem the validator reported. */
  readonly issues: readonly ValidationIssue[];

  constructor(what: string, issues: readonly ValidationIssue[], options?: { cause?: unknown }) {
    const list = listText(issues, SHOWN_PROBLEMS, "; ", "the error's issues", (i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`);
    super("INPUT_VALIDATION", `${what} failed validation: ${list}. Pass values that match the schema.`, options);
    this.issues = issues;
  }
}

/**
 * Throw this from a node to fail it at once, without further attempts.
 *
 * @example
 * ```ts
 * .node("charge", async () => { if (!card) throw new NonRetryableError("no card on file") })
 * ```
 */
export class NonRetryableError extends TaskloomError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("NON_RETRYABLE", message, options);
  }
}
