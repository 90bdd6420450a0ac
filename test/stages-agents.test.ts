/**
 * Agents without a graph: registration (by id or title, overwrite, order),
 * providers (once per task, shared, async, disposed whatever happens), and
 * the JSON job handlers (single and batch round trips, retries, unknown
 * pathways naming the valid ones, bad input answered, never thrown).
 */
import { describe, expect, it } from "vitest";
import { AgentRegistry, defineWorkflow, ProviderScope, StageRegistrationError, type JobResult, type Provider, type StageTask } from "../src/index.js";
import { buildJobHandlers } from "../src/stages/job-handlers.js";
import { rejection } from "./support/async.js";

const workflow = defineWorkflow({
  name: "labeling",
  stages: [
    { id: "pre-label", title: "Pre-label", kind: "agent", pathways: { review: "review", skip: "archive" } },
    { id: "qa", title: "Auto QA", kind: "agent", pathways: { pass: "complete", fail: "review" } },
    { id: "review", kind: "review", pathways: { approve: "qa", reject: "pre-label" } },
    { id: "complete", kind: "final" },
    { id: "archive", kind: "final" },
  ],
});

const task = (id: string, data: Record<string, unknown> = {}): StageTask => ({ id, data, stageId: "pre-label", status: "NEW" });
const ctx = { runId: "r", stageId: "pre-label", signal: new AbortController().signal };

describe("agent registration", () => {
  it("registers by id or title and keeps registration order; overwrite keeps the position", () => {
    const agents = new AgentRegistry(workflow);
    const first = async () => "pass";
    agents.register("Auto QA", first);
    agents.register("pre-label", async () => "review");
    const replaced = async () => "fail";
    agents.register("qa", replaced, { overwrite: true });
    expect(agents.list().map((a) => a.stageId)).toEqual(["qa", "pre-label"]);
    expect(agents.get("Auto QA")?.fn).toBe(replaced);
    expect(agents.missing()).toEqual([]);
  });

  it("refuses a second registration without overwrite, unknown stages and human stages, naming the agent stages", () => {
    const agents = new AgentRegistry(workflow);
    agents.register("pre-label", async () => "review");
    const twice = (() => {
      try {
        agents.register("Pre-label", async () => "skip");
      } catch (e) {
        return e as StageRegistrationError;
      }
    })();
    expect(twice).toBeInstanceOf(StageRegistrationError);
    expect(twice?.code).toBe("STAGE_REGISTRATION");
    expect(twice?.message).toContain("pass { overwrite: true }");
    expect(() => agents.register("nope", async () => "x")).toThrow(/no stage has this id or title \(agent stages: "pre-label", "qa"\)/);
    expect(() => agents.register("review", async () => "x")).toThrow(/it is a review stage, and only agent stages run code/);
    expect(() => agents.register("qa", "not a function" as never)).toThrow(StageRegistrationError);
    expect(() => agents.register("qa", async () => "x", { deps: { client: 42 as never } })).toThrow(/provider "client" is a number/);
    expect(agents.missing()).toEqual(["qa"]);
  });
});

describe("providers", () => {
  it("calls each provider once per scope, shares it between stages, and disposes newest first", async () => {
    const calls: string[] = [];
    const provideClient: Provider<{ name: string }> = async (t) => {
      calls.push(`client for ${t.id}`);
      await Promise.resolve();
      return { value: { name: `client-${t.id}` }, dispose: () => void calls.push("dispose client") };
    };
    const provideAsset: Provider<string> = (t) => {
      calls.push("asset");
      return { value: `asset-${t.id}`, dispose: async () => void calls.push("dispose asset") };
    };
    const provideConst: Provider<number> = () => 7;
    const scope = new ProviderScope();
    const [a, b] = await Promise.all([
      scope.resolve({ client: provideClient, asset: provideAsset }, task("t1"), ctx),
      scope.resolve({ client: provideClient, n: provideConst }, task("t1"), ctx),
    ]);
    expect(a).toEqual({ client: { name: "client-t1" }, asset: "asset-t1" });
    expect(b.client).toBe(a.client);
    expect(b.n).toBe(7);
    expect(calls).toEqual(["client for t1", "asset"]);
    expect(await scope.dispose()).toEqual([]);
    // The asset resolved first (the client awaited), so the client is the newest and goes first.
    expect(calls.slice(2)).toEqual(["dispose client", "dispose asset"]);
    await expect(scope.resolve({ client: provideClient }, task("t1"), ctx)).rejects.toThrow(/disposed/);
  });

  it("forgets a provider that threw, so a retry calls it again; dispose errors are returned, not thrown", async () => {
    let n = 0;
    const flaky: Provider<number> = () => {
      n++;
      if (n === 1) throw new Error("connect failed");
      return { value: n, dispose: () => Promise.reject(new Error("close failed")) };
    };
    const scope = new ProviderScope();
    expect(await rejection(scope.resolve({ x: flaky }, task("t"), ctx))).toMatchObject({ message: "connect failed" });
    expect(await scope.resolve({ x: flaky }, task("t"), ctx)).toEqual({ x: 2 });
    const errors = await scope.dispose();
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe("close failed");
  });

  it("disposes at once a scope whose values need no dispose, and leaves one that holds a value to dispose()", async () => {
    const idle = new ProviderScope();
    expect(await idle.resolve({ n: () => 7 }, task("t"), ctx)).toEqual({ n: 7 });
    expect(idle.disposeIfIdle()).toBe(true);
    await expect(idle.resolve({ n: () => 7 }, task("t"), ctx)).rejects.toThrow(/disposed/);
    let disposed = 0;
    const holding = new ProviderScope();
    await holding.resolve({ x: () => ({ value: 1, dispose: () => void disposed++ }) }, task("t"), ctx);
    expect(holding.disposeIfIdle()).toBe(false);
    expect(await holding.resolve({ y: () => 2 }, task("t"), ctx)).toEqual({ y: 2 });
    expect(await holding.dispose()).toEqual([]);
    expect(disposed).toBe(1);
  });
});

describe("job handlers", () => {
  const make = (numRetries = 0) => {
    const agents = new AgentRegistry(workflow);
    const attempts = new Map<string, number>();
    let disposed = 0;
    agents.register(
      "pre-label",
      async (t, { deps, attempt }) => {
        attempts.set(t.id, attempt);
        if (t.data.fail === "always") throw new Error(`model down for ${t.id}`);
        if (t.data.fail === "once" && attempt === 1) throw new Error("timeout");
        if (t.data.pathway === "wrong") return "aprove";
        if (t.data.stay) return undefined;
        return { pathway: t.data.empty ? "skip" : "review", label: `${deps.model}:${String(t.data.text)}` };
      },
      { deps: { model: () => ({ value: "m1", dispose: () => void disposed++ }) } },
    );
    agents.register("qa", async () => "pass");
    return { handlers: buildJobHandlers(agents, { numRetries, retryDelayMs: 0 }), attempts, disposed: () => disposed };
  };

  it("gives one handler per registered agent stage, in registration order", () => {
    expect(Object.keys(make().handlers)).toEqual(["pre-label", "qa"]);
  });

  it("round-trips a single task spec and a batch as JSON", async () => {
    const { handlers, disposed } = make();
    const one = JSON.parse(await handlers["pre-label"]!(JSON.stringify({ id: "t1", data: { text: "cat" } }))) as JobResult;
    expect(one).toEqual({ taskId: "t1", stageId: "pre-label", success: true, pathway: "review", error: null, updates: { label: "m1:cat" } });
    const batch = JSON.parse(
      await handlers["pre-label"]!(
        JSON.stringify([
          { id: "a", data: { text: "x" } },
          { id: "b", data: { empty: true } },
          { id: "c", data: { stay: true } },
        ]),
      ),
    ) as JobResult[];
    expect(batch.map((r) => [r.taskId, r.success, r.pathway])).toEqual([
      ["a", true, "review"],
      ["b", true, "skip"],
      ["c", true, null],
    ]);
    expect(disposed()).toBe(4);
  });

  it("retries numRetries times, then answers with the error; an unknown pathway is not retried and names the valid ones", async () => {
    const { handlers, attempts } = make(2);
    const once = JSON.parse(await handlers["pre-label"]!(JSON.stringify({ id: "o", data: { fail: "once" } }))) as JobResult;
    expect(once.success).toBe(true);
    expect(attempts.get("o")).toBe(2);
    const always = JSON.parse(await handlers["pre-label"]!(JSON.stringify({ id: "f", data: { fail: "always" } }))) as JobResult;
    expect(always).toMatchObject({ taskId: "f", success: false, pathway: null, error: "Error: model down for f" });
    expect(attempts.get("f")).toBe(3);
    const wrong = JSON.parse(await handlers["pre-label"]!(JSON.stringify({ id: "w", data: { pathway: "wrong" } }))) as JobResult;
    expect(wrong.success).toBe(false);
    expect(wrong.error).toMatch(/^UnknownPathwayError: .*"aprove".*valid pathways: "review", "skip"/);
    expect(attempts.get("w")).toBe(1);
  });

  it("answers bad JSON, bad tasks and another stage's task with success false", async () => {
    const { handlers } = make();
    const h = handlers["pre-label"]!;
    // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers (expect.any, objectContaining, stringMatching) as any
    expect(JSON.parse(await h("{ nope"))).toMatchObject({ taskId: null, success: false, error: expect.stringMatching(/^the job spec is not valid JSON/) });
    // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers (expect.any, objectContaining, stringMatching) as any
    expect(JSON.parse(await h(JSON.stringify({ data: {} })))).toMatchObject({ taskId: null, success: false, error: expect.stringContaining("job[0].id") });
    expect(JSON.parse(await h(JSON.stringify({ id: "t", stageId: "qa" })))).toMatchObject({
      taskId: "t",
      success: false,
      // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers (expect.any, objectContaining, stringMatching) as any
      error: expect.stringContaining('this handler runs stage "pre-label"'),
    });
  });
});
