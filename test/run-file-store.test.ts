import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RunFileStore } from "../src/persistence/run-file-store.js";
import { describeRunStoreConformance } from "./store-conformance.js";

describeRunStoreConformance("RunFileStore", async () => {
  const dir = await mkdtemp(join(tmpdir(), "taskloom-runfile-"));
  return { store: new RunFileStore({ dir }), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

describeRunStoreConformance("RunFileStore with fsync", async () => {
  const dir = await mkdtemp(join(tmpdir(), "taskloom-runfile-"));
  return { store: new RunFileStore({ dir, fsync: true }), cleanup: () => rm(dir, { recursive: true, force: true }) };
});
