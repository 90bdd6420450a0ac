/**
 * `node:fs` with its flushes and name changes logged, for tests that
 * check what a store flushes and in what order. A test file keeps the log
 * in `vi.hoisted` and hands it to the mock:
 *
 * ```ts
 * const disk = vi.hoisted(() => ({ paths: new Map<number, string>(), log: [] as string[] }));
 * vi.mock("node:fs", async (importOriginal) => {
 *   const { loggedFs } = await import("./support/logged-fs.js");
 *   return loggedFs(await importOriginal<typeof import("node:fs")>(), disk);
 * });
 * ```
 *
 * Logged, in order, each after the call succeeded: `fdatasync <path>` and
 * `fsync <path>` (the path the descriptor was opened with; the callback
 * form of `fdatasync` too), `link <from> <to>` and `rename <from> <to>`;
 * with `creates`, also `create <path>` for a file made exclusively
 * (`openSync` with `O_CREAT | O_EXCL`).
 */

/** Where the log goes: the path of each open descriptor, and the entries. */
export interface DiskLog {
  readonly paths: Map<number, string>;
  readonly log: string[];
}

/** `fs` with `openSync`, `fdatasyncSync`, `fdatasync`, `fsyncSync`, `linkSync` and `renameSync` logging to `disk`. */
export function loggedFs(fs: typeof import("node:fs"), disk: DiskLog, options: { readonly creates?: boolean } = {}): typeof import("node:fs") {
  const exclusive = fs.constants.O_CREAT | fs.constants.O_EXCL;
  const openSync = ((path: string, ...rest: unknown[]) => {
    const fd = (fs.openSync as (...args: unknown[]) => number)(path, ...rest);
    disk.paths.set(fd, String(path));
    if (options.creates === true && typeof rest[0] === "number" && (rest[0] & exclusive) === exclusive) disk.log.push(`create ${String(path)}`);
    return fd;
  }) as typeof fs.openSync;
  const fdatasyncSync: typeof fs.fdatasyncSync = (fd) => {
    fs.fdatasyncSync(fd);
    disk.log.push(`fdatasync ${disk.paths.get(fd)}`);
  };
  const fdatasync = ((fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => {
    const path = disk.paths.get(fd);
    fs.fdatasync(fd, (err) => {
      if (!err) disk.log.push(`fdatasync ${path}`);
      callback(err);
    });
  }) as typeof fs.fdatasync;
  const fsyncSync: typeof fs.fsyncSync = (fd) => {
    fs.fsyncSync(fd);
    disk.log.push(`fsync ${disk.paths.get(fd)}`);
  };
  const linkSync: typeof fs.linkSync = (from, to) => {
    fs.linkSync(from, to);
    disk.log.push(`link ${String(from)} ${String(to)}`);
  };
  const renameSync: typeof fs.renameSync = (from, to) => {
    fs.renameSync(from, to);
    disk.log.push(`rename ${String(from)} ${String(to)}`);
  };
  const wrapped = { openSync, fdatasyncSync, fdatasync, fsyncSync, linkSync, renameSync };
  return { ...fs, ...wrapped, default: { ...fs, ...wrapped } } as typeof import("node:fs");
}
