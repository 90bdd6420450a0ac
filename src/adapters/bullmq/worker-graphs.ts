/**
 * The graphs a worker can run (`createWorker`'s `graphs` option): the
 * registry by graph name, checked when the worker is made, and the node a
 * job names, or the error saying why this worker cannot run it (no such
 * graph, another version of it, no such node).
 *
 * @module
 */
import { WorkerGraphMissingError } from "../worker-errors.js";
import { InvalidOptionError } from "../../errors.js";
import type { NodeDefinition } from "../../graph/definition.js";
import type { TaskGraph } from "../../graph/task-graph.js";
import type { NodeActivation } from "../../engine/node-executor.js";
import { describeValue } from "./job-payload.js";

/**
 * The graphs a worker can run: a list (each by its name) or an object by name.
 *
 * @example
 * ```ts
 * const graphs: GraphRegistry = [etl, report];
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- TaskGraph is invariant in its input and output types: only `any` admits every typed graph
export type GraphRegistry = readonly TaskGraph<any, any>[] | Readonly<Record<string, TaskGraph<any, any>>>;

/** One graph of a {@link GraphRegistry}. */
export type RegisteredGraph = Extract<GraphRegistry, readonly unknown[]>[number];

/** The registry by graph name; throws {@link InvalidOptionError} (option `graphs`) when it is not one. */
export function registryOf(graphs: unknown): Map<string, RegisteredGraph> {
  const advice = "pass the graphs the coordinators run, as a list ([etl, report]) or an object by name";
  if (graphs === null || typeof graphs !== "object") throw new InvalidOptionError("graphs", `is required: ${advice} (got ${describeValue(graphs)})`);
  const list: readonly unknown[] = Array.isArray(graphs) ? graphs : Object.values(graphs);
  const registry = new Map<string, RegisteredGraph>();
  list.forEach((g, i) => {
    const candidate = g as Partial<RegisteredGraph> | null;
    if (
      candidate === null ||
      typeof candidate !== "object" ||
      typeof candidate.name !== "string" ||
      typeof candidate.fingerprint !== "string" ||
      typeof candidate.node !== "function"
    ) {
      throw new InvalidOptionError("graphs", `holds a value that is not a built graph (entry ${i}: ${describeValue(g)}); ${advice}`);
    }
    const known = registry.get(candidate.name);
    if (known !== undefined && known.fingerprint !== candidate.fingerprint) {
      throw new InvalidOptionError(
        "graphs",
        `holds two different graphs named "${candidate.name}": a job names its graph, so one worker can serve one version of it`,
      );
    }
    registry.set(candidate.name, candidate as RegisteredGraph);
  });
  return registry;
}

/** The node definition to run, or the error saying why this worker cannot. */
export function resolveNode(graphs: Map<string, RegisteredGraph>, a: NodeActivation): NodeDefinition | WorkerGraphMissingError {
  const graph = graphs.get(a.graphName);
  if (!graph) {
    const known = [...graphs.keys()].map((n) => `"${n}"`).join(", ") || "none";
    return new WorkerGraphMissingError(a.graphName, a.nodeId, `its registry has no graph "${a.graphName}" (it has ${known})`);
  }
  if (graph.fingerprint !== a.fingerprint) {
    return new WorkerGraphMissingError(
      a.graphName,
      a.nodeId,
      `it has another version of graph "${a.graphName}" (fingerprint ${graph.fingerprint}; the coordinator runs ${a.fingerprint})`,
    );
  }
  const node = graph.node(a.nodeId);
  if (!node) return new WorkerGraphMissingError(a.graphName, a.nodeId, `graph "${a.graphName}" has no node "${a.nodeId}"`);
  return node;
}
