/**
 * Workflows from JSON files: `loadWorkflow(path)` reads, parses and
 * validates a {@link WorkflowDefinition}. `JSON.parse` keeps only the last
 * of two equal keys, which would hide a pathway defined twice; the file is
 * therefore scanned for duplicate keys first, and each is reported with
 * its path (`stages[1].pathways.approve`).
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { GraphDefinitionError } from "../graph/errors.js";
import { defineWorkflow, type Workflow, type WorkflowDefinition } from "./workflow.js";

/**
 * Reads a workflow definition from a JSON file and validates it. Throws
 * `GraphDefinitionError` (naming the file) when the file cannot be read,
 * is not JSON, repeats a key, or defines an invalid workflow.
 *
 * @example
 * ```ts
 * const workflow = await loadWorkflow("workflows/labeling.json");
 * const runner = new StageRunner(workflow);
 * ```
 */
export async function loadWorkflow(path: string): Promise<Workflow> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new GraphDefinitionError(path, [`the file cannot be read (${(error as Error).message})`]);
  }
  return parseWorkflow(text, path);
}

/**
 * Parses and validates a workflow definition from JSON text; `source`
 * names it in errors.
 *
 * @example
 * ```ts
 * const workflow = parseWorkflow(JSON.stringify(definition));
 * ```
 */
export function parseWorkflow(text: string, source = "workflow JSON"): Workflow {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new GraphDefinitionError(source, [`it is not valid JSON (${(error as Error).message})`]);
  }
  const duplicates = duplicateKeys(text);
  if (duplicates.length > 0) {
    throw new GraphDefinitionError(
      source,
      duplicates.map((p) => `the key "${p}" appears twice in ${source}`),
    );
  }
  try {
    return defineWorkflow(value as WorkflowDefinition);
  } catch (error) {
    if (error instanceof GraphDefinitionError) {
      throw new GraphDefinitionError(source, error.problems);
    }
    throw error;
  }
}

/** The paths of keys that appear twice in one object of valid JSON `text`. */
export function duplicateKeys(text: string): string[] {
  interface Frame {
    readonly keys: Set<string> | undefined; // undefined for an array
    readonly path: string;
    index: number;
    key: string | undefined;
  }
  const found: string[] = [];
  const stack: Frame[] = [];
  const childPath = (): string => {
    const top = stack[stack.length - 1];
    if (!top) return "";
    if (top.keys === undefined) return `${top.path}[${top.index}]`;
    return top.path ? `${top.path}.${top.key ?? ""}` : (top.key ?? "");
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "{" || c === "[") {
      stack.push({ keys: c === "{" ? new Set() : undefined, path: childPath(), index: 0, key: undefined });
    } else if (c === "}" || c === "]") {
      stack.pop();
    } else if (c === ",") {
      const top = stack[stack.length - 1];
      if (top && top.keys === undefined) top.index++;
    } else if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      const str = JSON.parse(text.slice(i, j + 1)) as string;
      i = j;
      let k = j + 1;
      while (/\s/.test(text[k] ?? "")) k++;
      const top = stack[stack.length - 1];
      if (text[k] === ":" && top?.keys) {
        top.key = str;
        if (top.keys.has(str)) found.push(top.path ? `${top.path}.${str}` : str);
        top.keys.add(str);
      }
    }
  }
  return found;
}
