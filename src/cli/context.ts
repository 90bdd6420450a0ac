/**
 * What every command gets: where to write, which store folder to use
 * (`--dir`, else `TASKLOOM_DIR`, else `./.taskloom`), and a store opened
 * on first use and closed when the command ends.
 *
 * @module
 */
import { resolve } from "node:path";
import { LowdbStore } from "../index.js";
import type { ProgressStream } from "./progress.js";

/** The process's streams and surroundings, injectable for tests. */
export interface CliIO {
  /** Results (JSON, tables): what a script pipes. */
  readonly out: ProgressStream;
  /** Progress, notes and errors. */
  readonly err: ProgressStream;
  /** The folder paths are resolved against. */
  readonly cwd: string;
  /** The environment (`TASKLOOM_DIR`). */
  readonly env: NodeJS.ProcessEnv;
  /** The time now (epoch ms). */
  now(): number;
}

/** The options every command accepts. */
export interface GlobalOptions {
  readonly dir?: string | undefined;
  readonly verbose?: boolean | undefined;
}

/** One command's surroundings. */
export class CommandContext {
  readonly io: CliIO;
  /** The store folder, absolute. */
  readonly dir: string;
  /** `--dir` as given, repeated in the commands the CLI suggests. */
  readonly dirFlag: string | undefined;
  readonly verbose: boolean;
  #store: LowdbStore | undefined;

  constructor(io: CliIO, options: GlobalOptions) {
    this.io = io;
    this.dirFlag = options.dir;
    this.dir = resolve(io.cwd, options.dir ?? (io.env.TASKLOOM_DIR || ".taskloom"));
    this.verbose = options.verbose === true;
  }

  /** The store, opened on first use. */
  store(): LowdbStore {
    return (this.#store ??= new LowdbStore({ dir: this.dir }));
  }

  /** Closes the store if it was opened. */
  async close(): Promise<void> {
    await this.#store?.close();
  }

  /** A `taskloom …` command line to suggest, with `--dir` when one was given. */
  suggest(args: readonly string[]): string {
    const dir = this.dirFlag !== undefined ? ["--dir", this.dirFlag] : [];
    return ["taskloom", ...dir, ...args].map((w) => (/^<[\w -]+>$/.test(w) ? w : shellQuote(w))).join(" ");
  }
}

/** Quotes a word for a POSIX shell when it needs it. */
export function shellQuote(word: string): string {
  return /^[\w./:@%+=,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
