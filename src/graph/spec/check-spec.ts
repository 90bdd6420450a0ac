/**
 * Checking the shape of a stored spec before anything is built from it:
 * the version, the known fields (an unknown one is refused, so a spec
 * written by a newer taskloom is never half read), and each field's type,
 * for the spec, each node, its retry options and backoff, and its map.
 *
 * Invariants: pure; it reports every problem at once and checks types
 * only, since the values (ids, edges, cycles, option ranges) are checked by
 * `TaskGraph` when `fromSpec` builds the graph.
 *
 * @module
 */
import { optionKeys, unknownKeyProblems } from "../../core/known-keys.js";
import { truncate } from "../../core/text.js";
import { isReservedNodeId } from "../validate-graph.js";
import { GRAPH_SPEC_VERSION, type GraphSpec } from "./format.js";

/** Every problem with the shape of a spec (types and known fields only; values are checked by the graph). */
export function specProblems(spec: unknown): string[] {
  if (spec === null || typeof spec !== "object" || Array.isArray(spec)) {
    return [`the spec must be an object as toSpec writes it (got ${kind(spec)})`];
  }
  const s = spec as Record<string, unknown>;
  const problems: string[] = [];
  problems.push(...unknownKeyProblems("", s, SPEC_FIELDS, "field"));
  if (s.version !== GRAPH_SPEC_VERSION) {
    problems.push(`version must be ${GRAPH_SPEC_VERSION} (got ${kind(s.version)}); this taskloom reads version ${GRAPH_SPEC_VERSION} specs`);
  }
  if (typeof s.name !== "string" || s.name === "") problems.push(`name must be a non-empty string (got ${kind(s.name)})`);
  if (s.output !== undefined && typeof s.output !== "string") problems.push(`output must be a function name (got ${kind(s.output)})`);
  if (s.fingerprint !== undefined && typeof s.fingerprint !== "string") {
    problems.push(`fingerprint must be a string (got ${kind(s.fingerprint)})`);
  }
  if (!Array.isArray(s.nodes)) {
    problems.push(`nodes must be an array (got ${kind(s.nodes)})`);
  } else {
    // An index loop, not forEach: forEach skips the holes of a sparse array, which would reach the builder as undefined nodes.
    for (let i = 0; i < s.nodes.length; i++) problems.push(...nodeProblems(s.nodes[i] as unknown, i));
  }
  return problems;
}

const SPEC_FIELDS = optionKeys<GraphSpec>({ version: true, name: true, nodes: true, output: true, fingerprint: true });

function nodeProblems(node: unknown, i: number): string[] {
  if (node === null || typeof node !== "object" || Array.isArray(node)) return [`nodes[${i}] must be an object (got ${kind(node)})`];
  const n = node as Record<string, unknown>;
  const where = typeof n.id === "string" ? `nodes[${i}] ("${n.id}")` : `nodes[${i}]`;
  const problems = fieldProblems(n, where, {
    id: "string",
    after: "string[]",
    fn: "string",
    retry: "object?",
    timeoutMs: "number?",
    map: "object?",
    routes: "object?",
    maxVisits: "number?",
  });
  // Checked here, not left to the graph: its message names the spec's node (`where`), and the nodes after it then
  // report no unknown dependency.
  if (isReservedNodeId(n.id)) problems.push(`${where}: a node cannot have the id "__proto__"; rename it`);
  if (n.retry !== null && typeof n.retry === "object" && !Array.isArray(n.retry)) {
    const retry = n.retry as Record<string, unknown>;
    problems.push(...fieldProblems(retry, `${where} retry`, { maxAttempts: "number?", backoff: "object?", retryOn: "string?", timeoutMs: "number?" }));
    if (retry.backoff !== null && typeof retry.backoff === "object" && !Array.isArray(retry.backoff)) {
      problems.push(
        ...fieldProblems(retry.backoff as Record<string, unknown>, `${where} retry.backoff`, {
          initialMs: "number?",
          factor: "number?",
          maxMs: "number?",
          jitter: "boolean?",
        }),
      );
    }
  }
  if (n.routes !== null && typeof n.routes === "object" && !Array.isArray(n.routes)) {
    for (const [name, targets] of Object.entries(n.routes)) {
      // JSON.parse makes "__proto__" a plain key, but a graph keeps routes in an object, where the key sets the prototype.
      if (name === "__proto__") problems.push(`${where} routes: a route cannot be named "__proto__"; rename it`);
      else if (typeof targets !== "string" && !isStringArray(targets)) {
        problems.push(`${where} routes: route "${name}" must be a node id or an array of node ids (got ${kind(targets)})`);
      }
    }
  }
  if (n.map !== null && typeof n.map === "object" && !Array.isArray(n.map)) {
    problems.push(...fieldProblems(n.map as Record<string, unknown>, `${where} map`, { source: "string", maxConcurrency: "number?" }));
  }
  return problems;
}

type FieldType = "string" | "string[]" | "string?" | "number?" | "boolean?" | "object?";

/** Problems with `obj`'s fields against `fields`: unknown fields, missing required ones, wrong types. */
function fieldProblems(obj: Record<string, unknown>, where: string, fields: Readonly<Record<string, FieldType>>): string[] {
  const problems: string[] = [];
  problems.push(...unknownKeyProblems(where, obj, Object.keys(fields), "field"));
  for (const [key, type] of Object.entries(fields)) {
    const value = obj[key];
    const optional = type.endsWith("?");
    if (value === undefined && optional) continue;
    const base = type.replace("?", "");
    const ok =
      base === "string[]"
        ? isStringArray(value)
        : base === "object"
          ? value !== null && typeof value === "object" && !Array.isArray(value)
          : typeof value === base;
    if (!ok) {
      const wanted = base === "string[]" ? "an array of strings" : base === "object" ? "an object" : `a ${base}`;
      problems.push(`${where}: ${key} must be ${wanted} (got ${kind(value)})`);
    }
  }
  return problems;
}

/** An array of strings with no holes (`every` skips the holes of a sparse array, which would reach the builder as undefined). */
function isStringArray(value: unknown): value is string[] {
  if (!Array.isArray(value)) return false;
  for (let i = 0; i < value.length; i++) if (typeof value[i] !== "string") return false;
  return true;
}

/** Longest value shown in a message; a spec may hold a string of megabytes where a number belongs. */
const SHOWN = 60;

function kind(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "symbol") return "a symbol";
  // JSON.stringify throws a TypeError for a bigint (a YAML or other parser may make one).
  if (typeof value === "bigint") return `bigint ${truncate(String(value), SHOWN)}`;
  // (A function reads "function undefined", as JSON.stringify gives nothing for it.)
  return `${typeof value} ${truncate(String(JSON.stringify(value)), SHOWN)}`;
}
