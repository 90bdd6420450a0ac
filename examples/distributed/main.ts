/**
 * `npm run example:distributed`: one coordinator and two workers, each its
 * own process, on the Redis at REDIS_URL (default 127.0.0.1:6379). Starts
 * the workers, runs the coordinator to the end, stops the workers, exits.
 * Without a Redis there it says so in one line and exits with code 1.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { requireRedis } from "./redis-check.js";

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));
const start = (file: string): ChildProcess => spawn(process.execPath, ["--import", "tsx", here(file)], { stdio: ["ignore", "pipe", "inherit"] });

function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      process.stdout.write(d);
      if (d.toString().includes("ready")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`a worker exited (${code}) before it was ready`)));
  });
}

await requireRedis();
const workers = [start("worker.ts"), start("worker.ts")];
try {
  await Promise.all(workers.map(ready));
  const coordinator = start("coordinator.ts");
  coordinator.stdout?.pipe(process.stdout);
  const code = await new Promise<number | null>((resolve) => coordinator.once("exit", resolve));
  process.exitCode = code ?? 1;
} finally {
  for (const w of workers) w.kill("SIGTERM");
  await Promise.all(workers.map((w) => new Promise((resolve) => (w.exitCode !== null ? resolve(null) : w.once("exit", resolve)))));
}
