/**
 * The same graphs in LangGraph.js: a `StateGraph` with one LangGraph node
 * per taskloom node and a `MemorySaver` checkpointer (LangGraph's in-memory
 * durability, the closest match to taskloom's `MemoryStore`).
 *
 * - fan-out: START → root, root → each of N, [all N] → join (a waiting
 *   edge, i.e. an AND-join), join → END;
 * - chain: START → n0 → n1 → … → END.
 *
 * Node bodies are no-ops returning `{}` (no state update), the cheapest
 * possible LangGraph node, so the comparison is conservative for taskloom.
 * `maxConcurrency` bounds parallel nodes as in the other systems;
 * `recursionLimit` is raised to allow N supersteps. The graph is compiled
 * once per process; each round gets a fresh `MemorySaver` and thread id.
 *
 * `langgraph-sqlite` is the same graph with `SqliteSaver` from
 * `@langchain/langgraph-checkpoint-sqlite` (better-sqlite3; the saver sets
 * `journal_mode=WAL` and keeps SQLite's default `synchronous=FULL`, so every
 * checkpoint commit is flushed to the disk), on a fresh database file in a
 * fresh temp dir per round; the round's timed part ends with closing it.
 * The builder is seen through a narrow `Builder` view because LangGraph's
 * node-name generics cannot follow thousands of dynamically named nodes.
 *
 * @module
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Annotation, END, MemorySaver, START, StateGraph } from "@langchain/langgraph";
import type { Shape } from "../protocol.js";
import { retire } from "../retire.js";
import { nodeIds, type Prepare, type Prepared, type Round } from "./types.js";

const State = Annotation.Root({
  count: Annotation<number>({ reducer: (a: number, b: number) => a + b, default: () => 0 }),
});

type Update = Partial<typeof State.State>;
const noop = async (): Promise<Update> => ({});

/** The compiled graph as far as this file uses it. */
interface Compiled {
  checkpointer?: unknown;
  invoke(input: Update, config: Record<string, unknown>): Promise<unknown>;
}

/** The builder as far as this file uses it, with node names as plain strings. */
interface Builder {
  addNode(id: string, fn: typeof noop): unknown;
  addEdge(from: string | string[], to: string): unknown;
  compile(options: { checkpointer: MemorySaver }): unknown;
}

function compile(shape: Shape, n: number): Compiled {
  const g = new StateGraph(State) as unknown as Builder;
  const ids = nodeIds(n);
  if (shape === "fanout") {
    g.addNode("root", noop);
    for (const id of ids) g.addNode(id, noop);
    g.addNode("join", noop);
    g.addEdge(START, "root");
    for (const id of ids) g.addEdge("root", id);
    g.addEdge(ids, "join");
    g.addEdge("join", END);
  } else {
    for (const id of ids) g.addNode(id, noop);
    g.addEdge(START, ids[0]!);
    for (let i = 1; i < n; i++) g.addEdge(ids[i - 1]!, ids[i]!);
    g.addEdge(ids[n - 1]!, END);
  }
  return g.compile({ checkpointer: new MemorySaver() }) as Compiled;
}

function configFor(index: number, n: number, concurrency: number): Record<string, unknown> {
  return { configurable: { thread_id: `bench-${index}` }, recursionLimit: n + 10, maxConcurrency: concurrency };
}

/** `langgraph`: a fresh `MemorySaver` per round. */
export const prepare: Prepare = async (shape: Shape, n: number, concurrency: number): Promise<Prepared> => {
  const t0 = performance.now();
  const app = compile(shape, n);
  const buildMs = performance.now() - t0;
  return {
    buildMs,
    async round(index: number): Promise<Round> {
      app.checkpointer = new MemorySaver();
      const config = configFor(index, n, concurrency);
      return {
        run: async () => {
          await app.invoke({}, config);
        },
        cleanup: async () => {},
      };
    },
  };
};

/** `langgraph-sqlite`: a fresh `SqliteSaver` on a fresh file per round. */
export const prepareSqlite: Prepare = async (shape: Shape, n: number, concurrency: number): Promise<Prepared> => {
  const { SqliteSaver } = await import("@langchain/langgraph-checkpoint-sqlite");
  const t0 = performance.now();
  const app = compile(shape, n);
  const buildMs = performance.now() - t0;
  return {
    buildMs,
    async round(index: number): Promise<Round> {
      const dir = await mkdtemp(join(tmpdir(), "taskloom-bench-sqlite-"));
      const saver = SqliteSaver.fromConnString(join(dir, "checkpoints.sqlite"));
      app.checkpointer = saver;
      // better-sqlite3 ships no types here: the database as far as this file uses it.
      const db = saver.db as unknown as { readonly open: boolean; close(): void };
      const config = configFor(index, n, concurrency);
      return {
        run: async () => {
          await app.invoke({}, config);
          db.close();
        },
        cleanup: async () => {
          if (db.open) db.close();
          await retire(dir);
        },
      };
    },
  };
};
