#!/usr/bin/env node
/**
 * The `taskloom` executable (package `bin`). It runs the command line and
 * exits with its code once stdout and stderr are flushed, so a graph
 * module that leaves a handle open (a database pool, a timer) does not
 * keep the command alive after its run is saved.
 *
 * @module
 */
import { runCli } from "./program.js";

const code = await runCli(process.argv.slice(2));
const flushed = (stream: NodeJS.WriteStream): Promise<void> => new Promise((done) => stream.write("", () => done()));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
