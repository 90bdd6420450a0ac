/**
 * Heavy optional dependencies are loaded on first use, not by importing
 * the package: chrono-node (English `when` phrases), croner (cron) and
 * commander (`runner.cli`). Each is watched with a pass-through mock that
 * records whether anything imported it statically.
 */
import { describe, expect, it, vi } from "vitest";

const imported = vi.hoisted(() => new Set<string>());
vi.mock("chrono-node", async (original) => {
  imported.add("chrono-node");
  return original();
});
vi.mock("croner", async (original) => {
  imported.add("croner");
  return original();
});
vi.mock("commander", async (original) => {
  imported.add("commander");
  return original();
});

describe("import cost", () => {
  it("importing taskloom loads none of chrono-node, croner and commander, and each still works when used", async () => {
    const taskloom = await import("../src/index.js");
    expect([...imported]).toEqual([]);

    const now = Date.UTC(2026, 10, 23, 10);
    expect(taskloom.parseWhen("tomorrow at 9am", { now, timezone: "UTC" })).toEqual({ kind: "at", at: Date.UTC(2026, 10, 24, 9) });
    expect(taskloom.parseWhen({ cron: "0 9 * * *" }, { now, timezone: "UTC" })).toEqual({ kind: "cron", cron: "0 9 * * *", timezone: "UTC" });
    const io = { out: { write: () => true }, err: { write: () => true } };
    expect(taskloom.parseStageArgs(["--tasks", "t.json", "--refresh-every", "30s"], "w", io)).toMatchObject({ tasks: "t.json", refreshEveryMs: 30_000 });
    expect(() => taskloom.parseStageArgs(["--tasks", "t.json", "--max-concurrency", "0"], "w", io)).toThrow(
      // eslint-disable-next-line @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers (expect.any, objectContaining, stringMatching) as any
      expect.objectContaining({ code: "INVALID_OPTION", message: expect.stringContaining("--max-concurrency") }),
    );
  });
});
