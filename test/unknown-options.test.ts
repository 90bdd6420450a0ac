/**
 * Options nobody reads are refused (issue 20, item 4): every options
 * object taskloom takes refuses a key it does not know with
 * `InvalidOptionError` naming the key, the thing it was given to and the
 * nearest known key; definitions that collect every problem (graphify
 * tasks, stored specs, workflows) list it as a `GraphDefinitionError`
 * problem with the same hint. Each "the full set is accepted" case builds
 * its options as `Required<TheInterface>`, so a key added to an interface
 * and not to its known-key list fails here at compile time or at run time.
 */
import { describe, expect, it } from "vitest";
import { optionKeys } from "../src/core/known-keys.js";
import {
  defineWorkflow,
  fromSpec,
  graph,
  graphFn,
  graphify,
  GraphDefinitionError,
  InvalidOptionError,
  LowdbStore,
  MemoryStore,
  NodeFailedError,
  parseWorkflow,
  resolveWait,
  run,
  runAsync,
  StageRunner,
  task,
  toSpec,
  compileWorkflow,
  type ActOptions,
  type AgentOptions,
  type BackoffOptions,
  type JobHandlerOptions,
  type MapOptions,
  type NodeOptions,
  type RetryOptions,
  type StageDefinition,
  type StageRunnerOptions,
  type StepOptions,
  type WaitOptions,
  type WorkflowDefinition,
} from "../src/index.js";
import { bullmqExecutor, createWorker, RedisStore } from "../src/adapters/bullmq/index.js";
import { rejection } from "./support/async.js";

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
}

/** The refusal of an unknown key: an InvalidOptionError naming the key, the thing, and the hint. */
function expectRefusal(error: unknown, key: string, thing: string, hint?: string): void {
  expect(error).toBeInstanceOf(InvalidOptionError);
  expect((error as InvalidOptionError).option).toBe(key);
  expect((error as InvalidOptionError).message).toContain(`option ${key} of ${thing} is not known`);
  if (hint !== undefined) expect((error as InvalidOptionError).message).toContain(`(did you mean "${hint}"?)`);
}

const allBackoff: Required<BackoffOptions> = { initialMs: 1, factor: 2, maxMs: 10, jitter: false };
const allRetry: Required<RetryOptions> = { maxAttempts: 2, backoff: allBackoff, retryOn: () => true, timeoutMs: 1_000 };

describe("builder node options", () => {
  it("refuses a typo at .node(), naming the node and the nearest key", () => {
    const err = thrown(() => graph("g").node("a", () => 1, { timeoutMS: 500 } as never));
    expectRefusal(err, "timeoutMS", 'node "a"', "timeoutMs");
    expect((err as Error).message).toContain("known options: after, retry, timeoutMs, routes, maxVisits");
  });

  it("refuses a typo in the node's retry and retry.backoff", () => {
    expectRefusal(
      thrown(() => graph("g").node("a", () => 1, { retry: { maxAttemps: 2 } as never })),
      "maxAttemps",
      'node "a" retry',
      "maxAttempts",
    );
    expectRefusal(
      thrown(() => graph("g").node("a", () => 1, { retry: { backoff: { initalMs: 5 } as never } })),
      "initalMs",
      'node "a" retry.backoff',
      "initialMs",
    );
  });

  it("accepts every documented node option", async () => {
    const all: Required<NodeOptions<readonly ["a"]>> = { after: ["a"], retry: allRetry, timeoutMs: 1_000, routes: { next: "c" }, maxVisits: 2 };
    const g = graph("all-node")
      .node("a", () => 1)
      .node("b", () => ({ __route: undefined }) as never, all)
      .node("c", () => 3)
      .build();
    expect(g.node("b")).toMatchObject({ after: ["a"], timeoutMs: 1_000, maxVisits: 2 });
  });
});

describe("builder map options", () => {
  it("refuses a typo at .map()", () => {
    const err = thrown(() =>
      graph("g")
        .node("xs", () => [1])
        .map("m", "xs", ({ item }) => item, { concurrency: 2 } as never),
    );
    expectRefusal(err, "concurrency", 'map "m"', "maxConcurrency");
  });

  it("accepts every documented map option; routes and maxVisits are passed on, not dropped", () => {
    const all: Required<MapOptions<readonly ["ys"]>> = {
      after: ["ys"],
      retry: allRetry,
      timeoutMs: 1_000,
      routes: { again: "xs" },
      maxVisits: 3,
      maxConcurrency: 2,
    };
    const withRoutes = graph("all-map")
      .node("xs", () => [1])
      .node("ys", () => 2)
      .map("m", "xs", ({ item }) => item, all);
    // A map node cannot route: build() says so instead of dropping the option.
    const err = thrown(() => withRoutes.build());
    expect(err).toBeInstanceOf(GraphDefinitionError);
    expect((err as GraphDefinitionError).problems).toEqual(['map node "m" cannot have routes; route from the node that reads its output']);
    const { routes: _routes, ...rest } = all;
    const g = graph("map-visits")
      .node("xs", () => [1])
      .node("ys", () => 2)
      .map("m", "xs", ({ item }) => item, rest)
      .build();
    expect(g.node("m")).toMatchObject({ maxVisits: 3, timeoutMs: 1_000, map: { source: "xs", maxConcurrency: 2 } });
  });
});

describe("graphFn step options", () => {
  it("rejects a step given an unknown option (such as after), naming the step", async () => {
    const g = graphFn("steps", async (_: undefined, { step }) => {
      const a = await step("a", () => 1);
      return step("b", () => a + 1, { after: ["a"] } as never);
    });
    const err = await rejection(runAsync(g, undefined, { store: new MemoryStore() }));
    expectRefusal(err, "after", 'step("b")');
  });

  it("rejects a typo in a step's retry", async () => {
    const g = graphFn("step-retry", async (_: undefined, { step }) => step("a", () => 1, { retry: { maxAtempts: 2 } as never }));
    const err = await rejection(runAsync(g, undefined, { store: new MemoryStore() }));
    expectRefusal(err, "maxAtempts", 'step("a") retry', "maxAttempts");
  });

  it("accepts every documented step option", async () => {
    const all: Required<StepOptions> = { retry: allRetry, timeoutMs: 1_000 };
    const g = graphFn("all-step", async (_: undefined, { step }) => step("a", () => 41 + 1, all));
    expect(await runAsync(g, undefined, { store: new MemoryStore() })).toBe(42);
  });

  it("refuses unknown graphFn options", () => {
    expectRefusal(
      thrown(() => graphFn("x", async () => 1, { inputs: {} } as never)),
      "inputs",
      'graphFn("x")',
      "input",
    );
  });
});

describe("node context step and waitFor options", () => {
  it("a node's step takes no options: a third argument fails the node with InvalidOptionError", async () => {
    const g = graph("node-step")
      .node("a", ({ step }) => (step as (n: string, f: () => number, o: object) => Promise<number>)("s", () => 1, { retry: { maxAttempts: 5 } }), {
        retry: { maxAttempts: 1 },
      })
      .build();
    const err = await rejection(runAsync(g, undefined, { store: new MemoryStore() }));
    expect(err).toBeInstanceOf(NodeFailedError);
    const cause = (err as NodeFailedError).cause;
    expectRefusal(cause, "retry", 'step("s") in a node');
    expect((cause as Error).message).toContain("it takes no options");
  });

  it("waitFor refuses a typo, failing the node with InvalidOptionError", async () => {
    const g = graph("wait-typo")
      .node("a", ({ waitFor }) => waitFor("k", { timeout: 5_000 } as never), { retry: { maxAttempts: 1 } })
      .build();
    const err = await rejection(runAsync(g, undefined, { store: new MemoryStore() }));
    expect(err).toBeInstanceOf(NodeFailedError);
    expectRefusal((err as NodeFailedError).cause, "timeout", 'waitFor("k")', "timeoutMs");
  });

  it("waitFor accepts every documented option", async () => {
    const store = new MemoryStore();
    const all: Required<WaitOptions<{ ok: boolean }>> = { timeoutMs: 60_000, schema: { parse: (v) => v as { ok: boolean } } };
    const g = graph("wait-all")
      .node("a", ({ waitFor }) => waitFor("k", all))
      .build();
    await rejection(runAsync(g, undefined, { store, runId: "wait-all" }));
    await resolveWait("wait-all", "k", { ok: true }, { store });
    expect(await runAsync(g, undefined, { store, runId: "wait-all" })).toEqual({ a: { ok: true } });
  });
});

describe("run-level retry options", () => {
  it("refuses a typo in the run's retry and retry.backoff", async () => {
    const g = graph("g")
      .node("a", () => 1)
      .build();
    expectRefusal(
      thrown(() => run(g, undefined, { store: new MemoryStore(), retry: { maxAttemps: 2 } as never })),
      "maxAttemps",
      "retry",
      "maxAttempts",
    );
    expectRefusal(
      thrown(() => run(g, undefined, { store: new MemoryStore(), retry: { backoff: { jiter: true } as never } })),
      "jiter",
      "retry.backoff",
      "jitter",
    );
    expect(await runAsync(g, undefined, { store: new MemoryStore(), retry: allRetry })).toEqual({ a: 1 });
  });
});

describe("graphify", () => {
  it("task() lists an unknown option as a problem with the hint", () => {
    const err = thrown(() => graphify("t", () => ({ v: task("v", () => 1, { timeoutMS: 5 } as never)() })));
    expect(err).toBeInstanceOf(GraphDefinitionError);
    expect((err as GraphDefinitionError).problems).toEqual([
      'task "v": unknown option "timeoutMS" (did you mean "timeoutMs"?); known options: retry, timeoutMs, routes, maxVisits',
    ]);
  });

  it("a task's retry typo is a problem of the graph", () => {
    const err = thrown(() => graphify("t", () => ({ v: task("v", () => 1, { retry: { maxAttemps: 2 } as never })() })));
    expect(err).toBeInstanceOf(GraphDefinitionError);
    expect((err as GraphDefinitionError).problems[0]).toContain('option maxAttemps of node "v" retry is not known (did you mean "maxAttempts"?)');
  });

  it("refuses unknown graphify options", () => {
    expectRefusal(
      thrown(() => graphify("t", () => ({ v: task("v", () => 1)() }), { inputs: {} } as never)),
      "inputs",
      'graphify("t")',
      "input",
    );
  });
});

describe("stored specs", () => {
  function one(): number {
    return 1;
  }
  const g = graph("spec").node("a", one).build();

  it("toSpec and fromSpec refuse unknown options", () => {
    expectRefusal(
      thrown(() => toSpec(g, { registy: { one } } as never)),
      "registy",
      "toSpec",
      "registry",
    );
    expectRefusal(
      thrown(() => fromSpec(toSpec(g), { one }, { inptu: {} } as never)),
      "inptu",
      "fromSpec",
      "input",
    );
  });

  it("a spec node field typo is listed with the hint", () => {
    const spec = { version: 1, name: "spec", nodes: [{ id: "a", after: [], fn: "one", timeoutMS: 5 }] };
    const err = thrown(() => fromSpec(spec, { one }));
    expect((err as GraphDefinitionError).problems).toEqual([
      'nodes[0] ("a"): unknown field "timeoutMS" (did you mean "timeoutMs"?); known fields: id, after, fn, retry, timeoutMs, map, routes, maxVisits',
    ]);
  });
});

describe("stage definitions and StageRunner options", () => {
  const stages: StageDefinition[] = [
    { id: "label", kind: "agent", pathways: { review: "review" } },
    { id: "review", kind: "review", pathways: { approve: "done" } },
    { id: "done", kind: "final" },
  ];

  it("defineWorkflow lists unknown workflow, stage and pathway fields with the hint", () => {
    const err = thrown(() =>
      defineWorkflow({
        name: "w",
        strat: "label",
        stages: [{ id: "label", kind: "agent", pathways: [{ name: "review", to: "review", too: "x" }], maxVisit: 3 }, ...stages.slice(1)],
      } as never),
    );
    expect(err).toBeInstanceOf(GraphDefinitionError);
    expect((err as GraphDefinitionError).problems).toEqual([
      'the workflow: unknown field "strat" (did you mean "start"?); known fields: name, start, stages',
      'stage "label": unknown field "maxVisit" (did you mean "maxVisits"?); known fields: id, uuid, title, kind, pathways, maxVisits, requireAssignee',
      'stage "label": pathway "review": unknown field "too" (did you mean "to"?); known fields: name, to, uuid',
    ]);
  });

  it("parseWorkflow (JSON) lists them too", () => {
    const err = thrown(() => parseWorkflow(JSON.stringify({ name: "w", stages: [{ ...stages[0], titel: "L" }, ...stages.slice(1)] }), "w.json"));
    expect((err as GraphDefinitionError).problems).toEqual([
      'stage "label": unknown field "titel" (did you mean "title"?); known fields: id, uuid, title, kind, pathways, maxVisits, requireAssignee',
    ]);
  });

  it("accepts every documented definition field", () => {
    const all: Required<WorkflowDefinition> = {
      name: "w",
      start: "label",
      stages: [
        {
          id: "label",
          uuid: "6f1c2a9e-label",
          title: "Label",
          kind: "agent",
          pathways: [{ name: "review", to: "review", uuid: "9b3d-review" }],
          maxVisits: 2,
          requireAssignee: false,
        } satisfies Required<StageDefinition>,
        ...stages.slice(1),
      ],
    };
    expect(defineWorkflow(all).stage("Label")?.maxVisits).toBe(2);
  });

  it("StageRunner, runAsync, act, stage registration, toJobHandlers and compileWorkflow refuse unknown options", async () => {
    const wf = defineWorkflow({ name: "w", stages });
    expectRefusal(
      thrown(() => new StageRunner(wf, { maxVisit: 2 } as never)),
      "maxVisit",
      "StageRunner",
      "maxVisits",
    );
    const runner = new StageRunner(wf, { store: new MemoryStore() });
    expectRefusal(
      thrown(() => runner.stage("label", () => "review", { overwrit: true } as never)),
      "overwrit",
      'the agent of stage "label"',
      "overwrite",
    );
    runner.stage("label", () => "review");
    expectRefusal(await rejection(runner.runAsync({ tasks: [], numRetry: 1 } as never)), "numRetry", "StageRunner.runAsync", "numRetries");
    expectRefusal(await rejection(runner.act("r", "t", "approve", { asignee: "ann" } as never)), "asignee", "act", "assignee");
    expectRefusal(
      thrown(() => runner.toJobHandlers({ numRetry: 1 } as never)),
      "numRetry",
      "toJobHandlers",
      "numRetries",
    );
    expectRefusal(
      thrown(() => compileWorkflow(wf, { label: () => "review" }, { limits: undefined } as never)),
      "limits",
      "compileWorkflow",
      "limit",
    );
    expectRefusal(
      thrown(() => compileWorkflow(wf, { label: { fn: () => "review", dep: {} } as never })),
      "dep",
      'the agent of stage "label"',
      "deps",
    );
    expectRefusal(await rejection(runner.cli([], { out: process.stdout, err: process.stderr, cdw: "/tmp" } as never)), "cdw", "StageRunner.cli io", "cwd");
  });

  it("accepts every documented StageRunner, act, agent and job-handler option", async () => {
    const wf = defineWorkflow({ name: "w", stages });
    const runnerOptions: Required<StageRunnerOptions> = {
      store: new MemoryStore(),
      maxVisits: 5,
      backoff: allBackoff,
      clock: { now: () => 0, setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as never) },
      serves: ["label"],
      // An executor that runs each body here, as the default does.
      executor: {
        execute: (activation, context) =>
          Promise.resolve(
            runner
              .graph()
              .node(activation.nodeId)
              ?.fn(context as never),
          ),
      },
    };
    const runner = new StageRunner(wf, runnerOptions);
    const agent: Required<AgentOptions<Record<string, never>>> = { deps: {}, overwrite: true };
    runner.stage("label", () => "review", agent);
    const jobs: Required<JobHandlerOptions> = { numRetries: 0, retryDelayMs: 1, runId: "jobs" };
    expect(Object.keys(runner.toJobHandlers(jobs))).toEqual(["label"]);
    const report = await runner.runAsync({ tasks: [{ id: "t1" }], runId: "r1" });
    expect(report.waiting).toBe(1);
    const act: Required<ActOptions> = { assignee: "ann", data: { note: "looks right" } };
    expect(await runner.act("r1", "t1", "approve", act)).toMatchObject({ action: "approve" });
  });
});

describe("resolveWait and the bullmq adapter options", () => {
  it("resolveWait refuses an unknown option", async () => {
    expectRefusal(await rejection(resolveWait("r", "k", 1, { stor: new MemoryStore() } as never)), "stor", "resolveWait", "store");
  });

  it("createWorker, bullmqExecutor and RedisStore refuse a typo before connecting", () => {
    expectRefusal(
      thrown(() => createWorker({ graphs: [], concurency: 2 } as never)),
      "concurency",
      "createWorker",
      "concurrency",
    );
    expectRefusal(
      thrown(() => bullmqExecutor({ queu: "q" } as never)),
      "queu",
      "bullmqExecutor",
      "queue",
    );
    expectRefusal(
      thrown(() => new RedisStore({ prefx: "p" } as never)),
      "prefx",
      "RedisStore",
      "prefix",
    );
  });
});

describe("stores and the snapshot policy", () => {
  it("LowdbStore refuses an unknown option (a typo of dir would put runs elsewhere)", () => {
    expectRefusal(
      thrown(() => new LowdbStore({ dri: "/tmp/x" } as never)),
      "dri",
      "LowdbStore",
      "dir",
    );
  });

  it("the snapshot policy refuses an unknown key beside intervalMs", () => {
    const g = graph("g")
      .node("a", () => 1)
      .build();
    expectRefusal(
      thrown(() => run(g, undefined, { store: new MemoryStore(), snapshot: { intervalMs: 5, every: 2 } as never })),
      "every",
      "snapshot",
    );
  });
});

describe("optionKeys", () => {
  it("names exactly the keys of the interface (a missing or an extra key does not compile)", () => {
    interface Two {
      readonly a?: number;
      readonly b: string;
    }
    expect(optionKeys<Two>({ a: true, b: true })).toEqual(["a", "b"]);
    // @ts-expect-error b is missing
    optionKeys<Two>({ a: true });
    // @ts-expect-error c is not a key of Two
    optionKeys<Two>({ a: true, b: true, c: true });
  });
});
