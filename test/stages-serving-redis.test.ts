/**
 * One worker per stage on a RedisStore: two runners, each with its own
 * RedisStore connection on one key prefix (as two processes would have),
 * serve one agent stage each and sweep at the same time until 60 tasks
 * completed. Each task's agents ran once per stage, never two at once for
 * one task, and each runner's report counts only its own moves.
 */
import { afterAll, expect, it } from "vitest";
import { RedisStore } from "../src/adapters/bullmq/index.js";
import { defineWorkflow, getRun, StageRunner } from "../src/index.js";
import { describeRedis, dropPrefix, REDIS_URL, uniquePrefix } from "./support/redis.js";

const workflow = defineWorkflow({
  name: "redis-workers",
  stages: [
    { id: "model", kind: "agent", pathways: { next: "rules" } },
    { id: "rules", kind: "agent", pathways: { done: "complete" } },
    { id: "complete", kind: "final" },
  ],
});
const N = 60;
const tasks = Array.from({ length: N }, (_, i) => ({ id: `t${i}`, data: { n: i } }));

describeRedis("one worker per stage on a RedisStore", () => {
  const prefix = uniquePrefix("stages-serving");
  const stores: RedisStore[] = [];
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await dropPrefix(prefix);
  });

  it("two runners on one prefix, one stage each, move every task once per stage", { timeout: 120_000 }, async () => {
    const calls = new Map<string, number>();
    const running = new Set<string>();
    const agent = (stage: string, answer: string) => async (task: { id: string }) => {
      const key = `${stage} ${task.id}`;
      expect(running.has(task.id), `${key} while the task is in another call`).toBe(false);
      running.add(task.id);
      calls.set(key, (calls.get(key) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 1));
      running.delete(task.id);
      return answer;
    };
    const store = (): RedisStore => {
      const s = new RedisStore({ connection: REDIS_URL, prefix });
      stores.push(s);
      return s;
    };
    const model = new StageRunner(workflow, { store: store(), serves: ["model"] }).stage("model", agent("model", "next"));
    const rules = new StageRunner(workflow, { store: store() }).stage("rules", agent("rules", "done"));
    const sweep = async (runner: StageRunner) => {
      const did = { moves: {} as Record<string, number>, completed: 0 };
      for (let i = 0; i < 200 && did.completed < N; i++) {
        const report = await runner.runAsync({ tasks, runId: "redis-two", batchSize: 20, maxConcurrency: 4 });
        for (const [from, n] of Object.entries(report.moves)) did.moves[from] = (did.moves[from] ?? 0) + n;
        did.completed = report.completed;
        expect(report.failed).toEqual([]);
      }
      return did;
    };
    const [modelDid, rulesDid] = await Promise.all([sweep(model), sweep(rules)]);
    expect(modelDid).toEqual({ moves: { model: N }, completed: N });
    expect(rulesDid).toEqual({ moves: { rules: N }, completed: N });
    for (const t of tasks) {
      expect([calls.get(`model ${t.id}`), calls.get(`rules ${t.id}`)], t.id).toEqual([1, 1]);
      const run = await getRun(`redis-two.${t.id}`, { store: stores[0] as RedisStore });
      expect(run.outputs).toMatchObject({ stageId: "complete", data: { n: t.data.n } });
    }
  });
});
