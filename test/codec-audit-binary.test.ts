/**
 * Binary data whose bytes were transferred (`structuredClone(x, { transfer })`,
 * `postMessage` to a worker) is detached: it reads as 0 bytes, and the
 * codec's copy of it throws. `isDurable` said yes, so a node returning one
 * was recorded, and the save threw `ValueNotStorableError`: the whole run
 * failed, where a value that cannot be stored is flagged and the node runs
 * again on resume (docs/durability.md, "What a node may return"). A
 * `DataView` out of its resizable buffer's bounds threw a raw TypeError
 * from the walk. Both are now refused, with a reason.
 */
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InputValidationError, MemoryStore, deserialize, getRun, graph, isDurable, run, runAsync, serialize, type RunEventMap } from "../src/index.js";
import { checkDurable } from "../src/core/value-codec.js";
import { tempStores } from "./support/temp-stores.js";

const { tempDir, lowdb } = tempStores("taskloom-codec-binary-");

/** `buffer`, detached: its bytes moved to a clone. */
function detach(buffer: ArrayBuffer): void {
  structuredClone(buffer, { transfer: [buffer] });
}

const KINDS = ["ArrayBuffer", "Uint8Array", "Float64Array", "BigInt64Array", "DataView", "Buffer"] as const;
type Kind = (typeof KINDS)[number];

/** A binary value of `kind` over a fresh buffer of `bytes` (a multiple of 8), detached afterwards when `detached`. */
function binaryOf(kind: Kind, bytes: number[], detached: boolean): unknown {
  const buffer = new ArrayBuffer(bytes.length);
  new Uint8Array(buffer).set(bytes);
  const value =
    kind === "ArrayBuffer"
      ? buffer
      : kind === "Uint8Array"
        ? new Uint8Array(buffer)
        : kind === "Float64Array"
          ? new Float64Array(buffer)
          : kind === "BigInt64Array"
            ? new BigInt64Array(buffer)
            : kind === "DataView"
              ? new DataView(buffer)
              : Buffer.from(buffer);
  if (detached) detach(buffer);
  return value;
}

describe("a detached binary value", () => {
  it("property: isDurable says yes exactly when serialize writes it and it reads back deep-equal", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...KINDS),
        fc.integer({ min: 0, max: 3 }).chain((words) => fc.array(fc.integer({ min: 0, max: 255 }), { minLength: words * 8, maxLength: words * 8 })),
        fc.boolean(),
        fc.boolean(),
        (kind, bytes, detached, nested) => {
          const leaf = binaryOf(kind, bytes, detached);
          const value = nested ? { list: [1, leaf], map: new Map([["k", leaf]]) } : leaf;
          const durable = isDurable(value);
          let exact: boolean;
          try {
            exact = isDeepStrictEqual(deserialize(serialize(value)), value);
          } catch {
            exact = false;
          }
          expect(durable, `${kind} of ${bytes.length} bytes, detached: ${detached}`).toBe(exact);
          if (detached && kind !== "Buffer") expect(durable).toBe(false);
        },
      ),
      { numRuns: 400, seed: 20261203 },
    );
  });

  it("says why it is refused", () => {
    const buffer = new ArrayBuffer(8);
    const view = new Float64Array(buffer);
    detach(buffer);
    expect(checkDurable({ out: [view] })).toEqual({
      ok: false,
      reason: expect.stringMatching(/^a detached ArrayBuffer.* at \.out\[0\]$/) as unknown,
    });
  });

  it("a DataView out of its resizable buffer's bounds is refused, not a TypeError", () => {
    // Resizable buffers are ES2024 (Node 20 has them; the project's lib does not list them).
    const Resizable = ArrayBuffer as unknown as new (bytes: number, options: { maxByteLength: number }) => ArrayBuffer;
    const buffer = new Resizable(8, { maxByteLength: 16 });
    const view = new DataView(buffer, 4, 4);
    (buffer as unknown as { resize: (bytes: number) => void }).resize(2);
    expect(() => checkDurable(view)).not.toThrow();
    expect(checkDurable(view).ok).toBe(false);
    expect(isDurable(view)).toBe(false);
  });

  it.each(["memory", "lowdb"] as const)("returned by a node is flagged OUTPUT_NOT_DURABLE on %s, and the run succeeds and resumes", async (kind) => {
    const memory = new MemoryStore();
    const dir = tempDir();
    const store = () => (kind === "memory" ? memory : lowdb(dir));
    let calls = 0;
    const g = graph("detached-out")
      .node("bytes", () => {
        calls += 1;
        const buffer = new ArrayBuffer(16);
        const view = new Uint8Array(buffer);
        detach(buffer);
        return view;
      })
      .node("after", () => "done", { after: ["bytes"] })
      .build();
    const warnings: RunEventMap["warning"][] = [];
    const handle = run(g, undefined, { store: store(), runId: "d1" });
    handle.events.on("warning", (w) => void warnings.push(w));
    await expect(handle.result()).resolves.toMatchObject({ after: "done" });
    expect(warnings.map((w) => [w.nodeId, w.code])).toContainEqual(["bytes", "OUTPUT_NOT_DURABLE"]);
    const details = await getRun("d1", { store: store() });
    expect(details.status).toBe("succeeded");
    expect(details.nodes.find((n) => n.id === "bytes")?.durable).toBe(false);
    // A resume by run id runs the flagged node again (its output was never stored).
    await expect(runAsync(g, undefined, { store: store(), runId: "d1" })).resolves.toMatchObject({ after: "done" });
    expect(calls).toBe(2);
  });

  it("given as run inputs is refused with InputValidationError before anything runs", async () => {
    const buffer = new ArrayBuffer(8);
    detach(buffer);
    const g = graph("detached-in")
      .input<unknown>()
      .node("a", () => 1)
      .build();
    await expect(runAsync(g, buffer, { store: new MemoryStore(), runId: "d2" })).rejects.toBeInstanceOf(InputValidationError);
  });
});
