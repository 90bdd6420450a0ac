/**
 * `taskloom graph <module>`: the graph's structure as Mermaid, dot or JSON.
 *
 * @module
 */
import type { CommandContext } from "../context.js";
import { graphData, graphView, toDot, toMermaid } from "../graph-format.js";
import { loadGraph } from "../load-graph.js";
import { jsonText } from "../text.js";

/** Formats of `taskloom graph`. */
export const GRAPH_FORMATS = ["mermaid", "dot", "json"] as const;

/** Options of `taskloom graph`. */
export interface GraphCommandOptions {
  readonly format?: (typeof GRAPH_FORMATS)[number] | undefined;
  readonly export?: string | undefined;
}

/** Runs the command; resolves to the exit code. */
export async function graphCommand(ctx: CommandContext, modulePath: string, options: GraphCommandOptions): Promise<number> {
  const { graph } = await loadGraph(modulePath, { exportName: options.export, cwd: ctx.io.cwd });
  const format = options.format ?? "mermaid";
  const text = format === "json" ? jsonText(graphData(graph)) : format === "dot" ? toDot(graphView({ shape: graph })) : toMermaid(graphView({ shape: graph }));
  ctx.io.out.write(`${text}\n`);
  return 0;
}
