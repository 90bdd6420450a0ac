/**
 * Routing: a node with `routes` returns `route(name, value)`; the chosen
 * targets run, the others and the nodes only they lead to are skipped;
 * routes back to an earlier node make loops of visits (`id#2`, …) bounded
 * by `maxVisits`; a resumed run replays routing decisions.
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import {
  GraphDefinitionError,
  fromSpec,
  graphify,
  task,
  type Ref,
  LoopLimitExceeded,
  MemoryStore,
  NodeFailedError,
  UnknownRouteError,
  getRun,
  graph,
  route,
  run,
  runAsync,
  type RouteTrigger,
  type GraphSpec,
} from "../src/index.js";
import { deferred, rejection, until } from "./support/async.js";
import { tempStores } from "./support/temp-stores.js";

const { tempDir, lowdb } = tempStores("taskloom-routing-");

/** `classify` routes to one of three branches; `report` joins two of them. */
function branches(choice: string, ran: string[]) {
  return graph("branches")
    .input<{ n: number }>()
    .node("classify", ({ inputs }) => route(choice, inputs.n * 10), {
      routes: { small: "small", big: ["big", "audit"], none: [] },
    })
    .node("small", ({ trigger }) => {
      ran.push("small");
      return `small:${String(trigger?.value)}`;
    })
    .node("big", ({ trigger }) => {
      ran.push("big");
      return `big:${String(trigger?.value)}`;
    })
    .node("audit", () => {
      ran.push("audit");
      return "audited";
    })
    .node(
      "afterBig",
      ({ deps }) => {
        ran.push("afterBig");
        return `${deps.big}+`;
      },
      { after: ["big"] },
    )
    .node(
      "report",
      ({ deps }) => {
        ran.push("report");
        return [deps.small, deps.afterBig];
      },
      { after: ["small", "afterBig"] },
    )
    .build();
}

describe("routing", () => {
  it("runs the chosen route's targets and skips the others and what only they lead to", async () => {
    const ran: string[] = [];
    const skipped: string[] = [];
    const store = new MemoryStore();
    const handle = run(branches("small", ran), { n: 4 }, { store });
    handle.events.on("node:skip", (e) => skipped.push(e.nodeId));
    const routes: (string | undefined)[] = [];
    handle.events.on("node:success", (e) => routes.push(e.route));
    const out = await handle.result();
    expect(ran.sort()).toEqual(["report", "small"]);
    expect(skipped.sort()).toEqual(["afterBig", "audit", "big"]);
    // report joins small (ran) and afterBig (skipped): it runs, with the skipped one undefined.
    expect(out.report).toEqual(["small:40", undefined]);
    expect(out.classify).toBe(40);
    expect(routes).toContain("small");
    const stored = await getRun(handle.runId, { store });
    const byId = Object.fromEntries(stored.nodes.map((n) => [n.id, n]));
    expect(byId.classify?.route).toBe("small");
    expect(byId.big?.status).toBe("skipped");
    expect(byId.small?.trigger).toEqual({ from: "classify", route: "small" });
  });

  it("a route with several targets runs them all; a route to no target skips every target", async () => {
    const ran: string[] = [];
    await runAsync(branches("big", ran), { n: 1 }, { store: new MemoryStore() });
    expect(ran.sort()).toEqual(["afterBig", "audit", "big", "report"]);

    const none: string[] = [];
    const out = await runAsync(branches("none", none), { n: 1 }, { store: new MemoryStore() });
    expect(none).toEqual([]); // report's after-nodes were all skipped, so it is skipped too
    expect(out.report).toBeUndefined();
  });

  it("an unknown route fails the node at once, naming the declared routes", async () => {
    let calls = 0;
    const g = graph("unknown")
      .node(
        "pick",
        () => {
          calls += 1;
          return route("sideways", 1);
        },
        { routes: { left: "l", right: "r" } },
      )
      .node("l", () => 1)
      .node("r", () => 2)
      .build();
    const error = await rejection(runAsync(g, undefined, { store: new MemoryStore(), retry: { maxAttempts: 5 } }));
    expect(error).toBeInstanceOf(NodeFailedError);
    const cause = (error as NodeFailedError).cause;
    expect(cause).toBeInstanceOf(UnknownRouteError);
    expect((cause as UnknownRouteError).code).toBe("UNKNOWN_ROUTE");
    expect((cause as UnknownRouteError).declared).toEqual(["left", "right"]);
    expect((cause as Error).message).toContain('"left", "right"');
    expect(calls).toBe(1); // not retried
  });

  it("a routing node must return route(); a node without routes must not", async () => {
    const noRoute = graph("plain-from-router")
      .node("pick", () => 1, { routes: { a: "a" } })
      .node("a", () => 1)
      .build();
    const e1 = await rejection(runAsync(noRoute, undefined, { store: new MemoryStore() }));
    expect(((e1 as NodeFailedError).cause as UnknownRouteError).route).toBeUndefined();

    const stray = graph("stray-route")
      .node("x", () => route("a", 1))
      .build();
    const e2 = await rejection(runAsync(stray, undefined, { store: new MemoryStore() }));
    expect((e2 as NodeFailedError).cause).toBeInstanceOf(UnknownRouteError);
    expect(((e2 as NodeFailedError).cause as Error).message).toContain("declares no routes");
  });

  it("types: a routing node's output is the route's value; the trigger is typed", () => {
    const g = graph("types")
      .node("pick", () => route("a", { score: 1 }), { routes: { a: "a" } })
      .node("a", ({ trigger }) => {
        expectTypeOf(trigger).toEqualTypeOf<RouteTrigger | undefined>();
        return 1;
      })
      .node("after", ({ deps }) => deps.pick.score, { after: ["pick"] })
      .build();
    expect(g.routesOf("pick")).toEqual({ a: ["a"] });
  });
});

/** draft → check; check routes "revise" back to draft (a loop) or "accept" to publish. */
function reviewLoop(acceptOn: number, log: string[], options: { maxVisits?: number } = {}) {
  return graph("review-loop")
    .input<{ topic: string }>()
    .node(
      "draft",
      ({ visit, trigger, inputs }) => {
        log.push(`draft#${visit}`);
        return `${inputs.topic} v${visit}${trigger ? ` (after ${trigger.route})` : ""}`;
      },
      options.maxVisits !== undefined ? { maxVisits: options.maxVisits } : {},
    )
    .node(
      "check",
      ({ deps, visit }) => {
        log.push(`check#${visit}`);
        return visit >= acceptOn ? route("accept", deps.draft) : route("revise", deps.draft);
      },
      { after: ["draft"], routes: { accept: "publish", revise: "draft" } },
    )
    .node("publish", ({ trigger }) => {
      log.push("publish");
      return `published ${String(trigger?.value)}`;
    })
    .output(({ publish, draft }) => ({ publish, draft }))
    .build();
}

describe("routing loops", () => {
  it("each visit is a new activation, the loop head starts the run, and outputs are the latest visits'", async () => {
    const log: string[] = [];
    const store = new MemoryStore();
    const handle = run(reviewLoop(3, log), { topic: "t" }, { store });
    const out = await handle.result();
    expect(log).toEqual(["draft#1", "check#1", "draft#2", "check#2", "draft#3", "check#3", "publish"]);
    expect(out).toEqual({ publish: "published t v3 (after revise)", draft: "t v3 (after revise)" });
    const stored = await getRun(handle.runId, { store });
    const ids = stored.nodes.map((n) => n.id);
    expect(ids).toEqual(expect.arrayContaining(["draft", "check", "publish", "draft#2", "check#2", "draft#3", "check#3"]));
    const draft3 = stored.nodes.find((n) => n.id === "draft#3");
    expect(draft3).toMatchObject({ nodeId: "draft", visit: 3, trigger: { from: "check#2", route: "revise" }, status: "succeeded" });
    expect(stored.nodes.every((n) => n.status === "succeeded")).toBe(true);
  });

  it("a loop that never exits fails with LoopLimitExceeded at maxVisits, run option or node option", async () => {
    const log: string[] = [];
    const error = await rejection(runAsync(reviewLoop(Infinity, log), { topic: "t" }, { store: new MemoryStore(), maxVisits: 4 }));
    expect(error).toBeInstanceOf(LoopLimitExceeded);
    expect(error).toMatchObject({ code: "LOOP_LIMIT", nodeId: "draft", maxVisits: 4 });
    expect(log.filter((l) => l.startsWith("draft"))).toHaveLength(4);
    expect(log).not.toContain("publish");

    const nodeLimit: string[] = [];
    const e2 = await rejection(runAsync(reviewLoop(Infinity, nodeLimit, { maxVisits: 2 }), { topic: "t" }, { store: new MemoryStore() }));
    expect(e2).toMatchObject({ nodeId: "draft", maxVisits: 2 });
    expect(nodeLimit.filter((l) => l.startsWith("draft"))).toHaveLength(2);

    const defaults: string[] = [];
    const e3 = await rejection(runAsync(reviewLoop(Infinity, defaults), { topic: "t" }, { store: new MemoryStore() }));
    expect(e3).toMatchObject({ maxVisits: 100 });
    expect(defaults.filter((l) => l.startsWith("check"))).toHaveLength(100);
  });

  it("in a loop made of routes only, the node declared first is the head: only it starts the run", async () => {
    const log: string[] = [];
    const g = graph("ping-pong")
      .node(
        "ping",
        ({ visit }) => {
          log.push(`ping#${visit}`);
          return route(visit < 2 ? "pong" : "stop", visit);
        },
        { routes: { pong: "pong", stop: "end" } },
      )
      .node(
        "pong",
        ({ visit }) => {
          log.push(`pong#${visit}`);
          return route("ping", visit);
        },
        { routes: { ping: "ping" } },
      )
      .node("end", ({ trigger }) => trigger?.value)
      .build();
    expect(g.routing?.isGated("ping")).toBe(false);
    expect(g.routing?.isGated("pong")).toBe(true);
    const out = await runAsync(g, undefined, { store: new MemoryStore() });
    expect(log).toEqual(["ping#1", "pong#1", "ping#2"]);
    expect(out.end).toBe(2);
  });

  it("a node that routes to itself retries a stage as visits", async () => {
    let tries = 0;
    const g = graph("poll")
      .node(
        "poll",
        ({ visit }) => {
          tries += 1;
          return visit < 3 ? route("again", visit) : route("done", visit);
        },
        { routes: { again: "poll", done: "finish" } },
      )
      .node("finish", ({ trigger }) => trigger?.value)
      .build();
    const out = await runAsync(g, undefined, { store: new MemoryStore() });
    expect(tries).toBe(3);
    expect(out.finish).toBe(3);
  });

  it("resumes a stopped loop where it was: finished visits are not run again", async () => {
    const dir = tempDir();
    const log: string[] = [];
    let failOn: string | undefined = "check#2";
    const g = graph("resumable-loop")
      .node("draft", ({ visit }) => {
        log.push(`draft#${visit}`);
        return visit;
      })
      .node(
        "check",
        ({ deps, visit }) => {
          log.push(`check#${visit}`);
          if (failOn === `check#${visit}`) throw new Error("reviewer unavailable");
          return deps.draft >= 3 ? route("accept", deps.draft) : route("revise", deps.draft);
        },
        { after: ["draft"], routes: { accept: "publish", revise: "draft" } },
      )
      .node("publish", ({ trigger }) => {
        log.push("publish");
        return trigger?.value;
      })
      .build();
    const first = await rejection(runAsync(g, undefined, { store: lowdb(dir), runId: "loop-1", retry: { maxAttempts: 1 } }));
    expect(first).toBeInstanceOf(NodeFailedError);
    expect(log).toEqual(["draft#1", "check#1", "draft#2", "check#2"]);
    failOn = undefined;
    log.length = 0;
    const out = await runAsync(g, undefined, { store: lowdb(dir), runId: "loop-1" });
    expect(log).toEqual(["check#2", "draft#3", "check#3", "publish"]);
    expect(out.publish).toBe(3);
  });
});

describe("routing validation", () => {
  it("refuses routes to unknown nodes, empty routes, bad names and bad maxVisits, naming each", () => {
    let error: unknown;
    try {
      graph("bad")
        .node("a", () => route("x"), { routes: { x: "nope", y: ["b", "b"] } })
        .node("b", () => 1, { maxVisits: 0 })
        .node("c", () => 1, { routes: {} })
        .build();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GraphDefinitionError);
    const message = (error as Error).message;
    expect(message).toContain('route "x" leads to "nope"');
    expect(message).toContain('route "y" lists "b" twice');
    expect(message).toContain('node "b": maxVisits');
    expect(message).toContain('node "c": routes is empty');
  });

  it("allows cycles through routes but not through after", () => {
    expect(() =>
      graph("after-cycle")
        .node("a", () => 1, { after: ["b"] as never })
        .node("b", () => 1, { after: ["a"] })
        .build(),
    ).toThrow(/cycle/);
    expect(reviewLoop(1, []).routing?.isGated("publish")).toBe(true);
    expect(reviewLoop(1, []).routing?.isGated("draft")).toBe(false); // a loop head: starts the run
  });

  it("refuses a map node on a loop and data a gated node cannot have", () => {
    expect(() =>
      graph("map-loop")
        .node("list", () => [1])
        .map("each", "list", ({ item }) => item)
        .node("again", () => route("loop"), { after: ["each"], routes: { loop: "list", stop: [] } })
        .build(),
    ).toThrow(/map node "each" is on a routing loop/);
    expect(() =>
      graph("gated-data")
        .node("side", () => 1)
        .node("pick", () => route("go"), { routes: { go: "target" } })
        .node("target", ({ deps }) => deps.side, { after: ["side"] })
        .build(),
    ).toThrow(/"target" runs only when "pick" routes to it, and lists "side"/);
  });

  it("changing routes changes the fingerprint", () => {
    const a = graph("fp")
      .node("p", () => route("x"), { routes: { x: "q" } })
      .node("q", () => 1)
      .node("r", () => 1)
      .build();
    const b = graph("fp")
      .node("p", () => route("x"), { routes: { x: "r" } })
      .node("q", () => 1)
      .node("r", () => 1)
      .build();
    expect(a.fingerprint).not.toBe(b.fingerprint);
  });
});

describe("routing in every builder", () => {
  it("graphify: a task with routes; the targets read its value through the reference", async () => {
    const ran: string[] = [];
    const triage = graphify("triage", (inputs: Ref<{ text: string }>) => {
      const kind = task("classify", (text: string) => (text.includes("?") ? route("question", text) : route("bug", text.toUpperCase())), {
        routes: { question: "answer", bug: "fix" },
      })(inputs.text);
      const answer = task("answer", (q: string) => {
        ran.push("answer");
        return `answer to ${q}`;
      })(kind);
      const fix = task("fix", (b: string) => {
        ran.push("fix");
        return `fixed ${b}`;
      })(kind);
      return { answer, fix };
    });
    expect(triage.routing?.isGated("answer")).toBe(true);
    const out = await runAsync(triage, { text: "crash on save" }, { store: new MemoryStore() });
    expect(out).toEqual({ answer: undefined, fix: "fixed CRASH ON SAVE" });
    expect(ran).toEqual(["fix"]);
  });

  it("specs keep routes and maxVisits: the loaded graph has the same fingerprint and routes the same way", async () => {
    const log: string[] = [];
    const draft = ({ visit }: { visit: number }) => {
      log.push(`draft#${visit}`);
      return visit;
    };
    const check = ({ deps }: { deps: { draft: number } }) => (deps.draft >= 2 ? route("accept", deps.draft) : route("revise"));
    const publish = ({ trigger }: { trigger: RouteTrigger | undefined }) => `published v${String(trigger?.value)}`;
    const g = graph("stored-loop")
      .node("draft", draft, { maxVisits: 5 })
      .node("check", check, { after: ["draft"], routes: { accept: "publish", revise: "draft" } })
      .node("publish", publish)
      .build();
    const spec = JSON.parse(JSON.stringify(g.toSpec())) as GraphSpec;
    expect(spec.nodes.find((n: { id: string }) => n.id === "check")?.routes).toEqual({ accept: ["publish"], revise: ["draft"] });
    expect(spec.nodes.find((n: { id: string }) => n.id === "draft")?.maxVisits).toBe(5);
    const loaded = fromSpec(spec, { draft, check, publish });
    expect(loaded.fingerprint).toBe(g.fingerprint);
    const out = await runAsync(loaded, undefined, { store: new MemoryStore() });
    expect(log).toEqual(["draft#1", "draft#2"]);
    expect(out).toMatchObject({ publish: "published v2" });
  });
});

describe("routing with parallel branches", () => {
  it("skips an unchosen target only once nothing that could still choose it is running", async () => {
    const gate = deferred<void>();
    const ran: string[] = [];
    const skipped: string[] = [];
    // "x" is a target of both a and b; a leaves it out at once, b decides later.
    const g = graph("two-routers")
      .node("a", () => route("left"), { routes: { left: "l", right: "x" } })
      .node(
        "b",
        async () => {
          await gate.promise;
          return route("pick", 1);
        },
        { routes: { pick: "x", pass: [] } },
      )
      .node("l", () => ran.push("l"))
      .node("x", () => ran.push("x"))
      .build();
    const handle = run(g, undefined, { store: new MemoryStore() });
    handle.events.on("node:skip", (e) => skipped.push(e.nodeId));
    await until(() => ran.includes("l"), "l ran");
    expect(skipped).toEqual([]); // b could still choose x
    gate.resolve();
    await handle.result();
    expect(ran.sort()).toEqual(["l", "x"]);
    expect(skipped).toEqual([]);
  });

  it("a node after a looping node runs after each of its visits", async () => {
    const seen: number[] = [];
    const g = graph("observer")
      .node("step", ({ visit }) => (visit < 3 ? route("again", visit) : route("stop", visit)), { routes: { again: "step", stop: [] } })
      .node(
        "watch",
        ({ deps }) => {
          seen.push(deps.step);
          return deps.step;
        },
        { after: ["step"] },
      )
      .build();
    const out = await runAsync(g, undefined, { store: new MemoryStore(), maxConcurrency: 1 });
    expect(seen).toEqual([1, 2, 3]);
    expect(out.watch).toBe(3);
  });

  it("with continueOnError, a failed branch's followers are left pending for a resume, not skipped", async () => {
    let fail = true;
    const g = graph("partial")
      .node("pick", () => route("both"), { routes: { both: ["bad", "good"], none: [] } })
      .node("bad", () => {
        if (fail) throw new Error("down");
        return "ok now";
      })
      .node("good", () => "fine")
      .node("after", ({ deps }) => `${deps.bad}`, { after: ["bad"] })
      .build();
    const store = new MemoryStore();
    const error = await rejection(runAsync(g, undefined, { store, runId: "partial-1", continueOnError: true, retry: { maxAttempts: 1 } }));
    expect(error).toBeInstanceOf(NodeFailedError);
    const stored = await getRun("partial-1", { store });
    const status = Object.fromEntries(stored.nodes.map((n) => [n.id, n.status]));
    expect(status).toMatchObject({ pick: "succeeded", good: "succeeded", bad: "failed", after: "pending" });
    fail = false;
    const out = await runAsync(g, undefined, { store, runId: "partial-1" });
    expect(out.after).toBe("ok now");
  });
});
