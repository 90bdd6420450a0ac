/**
 * Task sources: where a runner's tasks come from and where their moves
 * are written. The runner reads the source at each sweep and writes one
 * batch of moves per batch of tasks, so a source backed by a remote
 * service pays one call per batch, not one per task.
 *
 * The source is a view for people and other systems; the durable truth of
 * each task's progress is its run in the store, so a source that missed
 * the last batch before a crash is brought up to date by the next sweep.
 *
 * Two implementations: {@link MemoryTaskSource} (tests, programs that
 * hold their tasks) and {@link JsonFileTaskSource} (a JSON file, rewritten
 * atomically per batch).
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import { open, readFile, realpath, rename, stat, unlink } from "node:fs/promises";
import { InvalidOptionError } from "../errors.js";
import type { TaskData } from "./stage-task.js";
import { isTaskStatus, type TaskStatus } from "./task-status.js";

/**
 * A task as a source gives it.
 *
 * @example
 * ```ts
 * { id: "img-42", data: { url: "https://example.com/42.jpg" } }
 * ```
 */
export interface TaskInput {
  /** Unique id: 1 to 100 characters from `A-Z a-z 0-9 _ : @ -`, starting with a letter or digit. */
  readonly id: string;
  /** The task's data. @default {} */
  readonly data?: TaskData;
  /** The stage it is in, as last written by a runner (informative: the run in the store decides). */
  readonly stageId?: string;
  /** Its status, as last written by a runner. */
  readonly status?: TaskStatus;
  /** Who has it. */
  readonly assignee?: string;
}

/** Where one task stands after it was processed: what the runner writes to the source. */
export interface TaskMove {
  readonly taskId: string;
  /** The stage it was in before this sweep (undefined when it was new). */
  readonly from: string | undefined;
  /** The stage it is in now. */
  readonly stageId: string;
  /** Its status now. */
  readonly status: TaskStatus;
  /** The last pathway it took, if any. */
  readonly pathway?: string;
  /** Its data now, with agents' updates. */
  readonly data: TaskData;
  /** Who has it. */
  readonly assignee?: string;
  /** Why its processing failed, when it did (it stays in `stageId`). */
  readonly error?: string;
  /** When it was processed (epoch ms). */
  readonly at: number;
}

/**
 * Where tasks come from and where moves are written.
 *
 * @example
 * ```ts
 * const source: TaskSource = {
 *   fetch: async () => (await api.listTasks()).map((t) => ({ id: t.uuid, data: t.meta })),
 *   write: async (moves) => api.updateTasks(moves),
 * };
 * ```
 */
export interface TaskSource {
  /** Every task to process now (tasks already finished may be included: they are skipped). */
  fetch(): Promise<readonly TaskInput[]>;
  /** Records a batch of moves. */
  write(moves: readonly TaskMove[]): Promise<void>;
}

const TASK_ID = /^[A-Za-z0-9][A-Za-z0-9_:@-]{0,99}$/;

/** Whether `id` is a valid task id (1 to 100 characters from `A-Z a-z 0-9 _ : @ -`, starting with a letter or digit; never a "."). */
export function isTaskId(id: unknown): id is string {
  return typeof id === "string" && TASK_ID.test(id);
}

/** Throws `InvalidOptionError` naming `where` unless `id` is a valid task id. */
export function assertTaskId(id: unknown, where = "taskId"): asserts id is string {
  if (!isTaskId(id)) {
    throw new InvalidOptionError(where, `must be 1 to 100 characters from A-Z a-z 0-9 _ : @ -, starting with a letter or digit (got ${JSON.stringify(id)})`);
  }
}

/** Throws `InvalidOptionError` naming the first bad task (bad id, duplicate id, data that is not an object). */
export function validateTasks(tasks: unknown, where = "tasks"): asserts tasks is readonly TaskInput[] {
  if (!Array.isArray(tasks)) throw new InvalidOptionError(where, "must be an array of tasks ({ id, data? })");
  const seen = new Set<string>();
  tasks.forEach((raw: unknown, i) => {
    const t = raw as Partial<TaskInput> | null;
    const at = `${where}[${i}]`;
    if (t === null || typeof t !== "object") throw new InvalidOptionError(at, "must be an object { id, data? }");
    assertTaskId(t.id, `${at}.id`);
    if (seen.has(t.id)) throw new InvalidOptionError(`${at}.id`, `repeats the task id "${t.id}"`);
    seen.add(t.id);
    if (t.data !== undefined && (t.data === null || typeof t.data !== "object" || Array.isArray(t.data))) {
      throw new InvalidOptionError(`${at}.data`, "must be an object");
    }
    if (t.stageId !== undefined && typeof t.stageId !== "string") throw new InvalidOptionError(`${at}.stageId`, "must be a string");
    if (t.status !== undefined && !isTaskStatus(t.status))
      throw new InvalidOptionError(`${at}.status`, `must be a task status (got ${JSON.stringify(t.status)})`);
    if (t.assignee !== undefined && typeof t.assignee !== "string") throw new InvalidOptionError(`${at}.assignee`, "must be a string");
  });
}

/** A task updated by a move. */
export function applyMove(task: TaskInput, move: TaskMove): TaskInput & { readonly error?: string } {
  const { assignee: _assignee, error: _error, ...rest } = task as TaskInput & { error?: string };
  // `id` before the spread: a literal that starts with a spread and adds a key (a task's first move adds `stageId`
  // and `status`) gets a hidden class of its own each time in V8 11 (docs/architecture.md, "Hidden classes").
  // A task's keys keep their order when `id` is its first (a task whose first key is another gets `id` first).
  return {
    id: rest.id,
    ...(rest as Omit<typeof rest, "id">),
    data: move.data,
    stageId: move.stageId,
    status: move.status,
    ...(move.assignee !== undefined && { assignee: move.assignee }),
    ...(move.error !== undefined && { error: move.error }),
  };
}

/**
 * Tasks held in memory. `add` puts more tasks in (they are seen at the
 * next sweep); `tasks` shows them with their moves applied; `moves` is
 * every batch written, in order.
 *
 * @example
 * ```ts
 * const source = new MemoryTaskSource([{ id: "t1", data: { text: "hello" } }]);
 * await runner.runAsync({ tasks: source, runId: "labeling-1" });
 * console.log(source.tasks()); // [{ id: "t1", stageId: "review", status: "NEW", … }]
 * ```
 */
export class MemoryTaskSource implements TaskSource {
  readonly #tasks = new Map<string, TaskInput>();
  /** Every batch written, in order. */
  readonly batches: (readonly TaskMove[])[] = [];

  constructor(tasks: readonly TaskInput[] = []) {
    // Not `add(...tasks)`: spreading a list of some 100,000 tasks into arguments overflows the stack.
    this.#addAll(tasks);
  }

  /** Adds tasks (validated; an id already present is refused). */
  add(...tasks: TaskInput[]): void {
    this.#addAll(tasks);
  }

  #addAll(tasks: readonly TaskInput[]): void {
    const list: unknown = tasks;
    if (!Array.isArray(list)) throw new InvalidOptionError("tasks", "must be an array of tasks ({ id, data? })");
    validateTasks([...this.#tasks.values(), ...tasks]);
    for (const t of tasks) this.#tasks.set(t.id, t);
  }

  /** The tasks now, with their moves applied. */
  tasks(): TaskInput[] {
    return [...this.#tasks.values()];
  }

  async fetch(): Promise<readonly TaskInput[]> {
    return this.tasks();
  }

  async write(moves: readonly TaskMove[]): Promise<void> {
    this.batches.push([...moves]);
    for (const m of moves) {
      const task = this.#tasks.get(m.taskId);
      if (task) this.#tasks.set(m.taskId, applyMove(task, m));
    }
  }
}

/**
 * Tasks in a JSON file: an array of tasks, or `{ "tasks": [...] }`. Each
 * batch of moves rewrites the file atomically (a temporary file renamed
 * over it), keeping its shape, its other fields and its mode. The new
 * content is flushed to the disk before the rename, so a power loss leaves
 * the file as it was before or after the batch, never blank: a rename can
 * reach the disk before the content it names, and the old file, the
 * user's tasks, is gone once it does. A task file that is a symbolic link
 * is rewritten where it points, and stays a link.
 *
 * @example
 * ```ts
 * await runner.runAsync({ tasks: new JsonFileTaskSource("tasks.json"), runId: "labeling-1" });
 * ```
 */
export class JsonFileTaskSource implements TaskSource {
  /** The file. */
  readonly path: string;

  constructor(path: string) {
    if (typeof path !== "string" || path === "") throw new InvalidOptionError("JsonFileTaskSource path", "must be a non-empty string");
    this.path = path;
  }

  async fetch(): Promise<readonly TaskInput[]> {
    return (await this.#read()).tasks;
  }

  async write(moves: readonly TaskMove[]): Promise<void> {
    if (moves.length === 0) return;
    const { tasks, wrap } = await this.#read();
    const byId = new Map(moves.map((m) => [m.taskId, m]));
    const updated = tasks.map((t) => {
      const move = byId.get(t.id);
      return move ? applyMove(t, move) : t;
    });
    // A link is followed: its target is rewritten, and the link stays (a rename onto the link would replace it).
    const target = await realpath(this.path);
    // The rewritten file keeps the mode the user gave it (a task file may hold data only its owner may read).
    const { mode } = await stat(target);
    await replaceFlushed(target, `${JSON.stringify(wrap(updated), jsonValue, 2)}\n`, mode & 0o777);
  }

  async #read(): Promise<{ tasks: readonly TaskInput[]; wrap: (tasks: readonly TaskInput[]) => unknown }> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
      // A byte order mark (some editors save one) is not JSON: read past it (the file is written back without it).
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    } catch (error) {
      throw new InvalidOptionError(`tasks file ${this.path}`, `cannot be read (${(error as Error).message})`);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new InvalidOptionError(`tasks file ${this.path}`, `is not valid JSON (${(error as Error).message})`);
    }
    if (Array.isArray(value)) {
      validateTasks(value, this.path);
      return { tasks: value, wrap: (tasks) => tasks };
    }
    const doc = value as { tasks?: unknown } | null;
    if (doc !== null && typeof doc === "object" && Array.isArray(doc.tasks)) {
      validateTasks(doc.tasks, `${this.path} tasks`);
      return { tasks: doc.tasks, wrap: (tasks) => ({ ...doc, tasks }) };
    }
    throw new InvalidOptionError(`tasks file ${this.path}`, 'must hold an array of tasks or { "tasks": [...] }');
  }
}

/**
 * A value as the task file holds it: a `BigInt` (an agent may return one, and the store keeps it exactly)
 * as its decimal digits, since `JSON.stringify` throws on it and would fail the whole batch, every time.
 * The file is a view; the task's run keeps the exact value.
 */
function jsonValue(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

/**
 * Replaces `file` with `text` through a temp file beside it (made with
 * `mode`), flushed before the rename: readers and a crash see the old or
 * the new content, and so does a power loss. A failure leaves `file` as
 * it was and no temp file.
 */
async function replaceFlushed(file: string, text: string, mode: number): Promise<void> {
  const temp = `${file}.${randomUUID()}.tmp`;
  const handle = await open(temp, "wx", mode);
  try {
    await handle.writeFile(text);
    // The umask may have taken bits off the mode given to open.
    await handle.chmod(mode);
    await handle.datasync();
    await handle.close();
    await rename(temp, file);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}
