/**
 * Plain-text helpers for the CLI's human output: aligned tables, local
 * times, and JSON that does not throw on the values superjson stores
 * (`BigInt`, `Map`, `Set`) so a run's outputs always print. Text helpers
 * that library code needs too (`truncate`) live in `src/core/text.ts`.
 *
 * @module
 */

/**
 * Lays out rows under a header, columns padded to their widest cell.
 *
 * @example
 * ```ts
 * table(["ID", "STATUS"], [["a", "succeeded"]]); // "ID  STATUS\na   succeeded"
 * ```
 */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** A local date and time, `YYYY-MM-DD HH:MM:SS`; `-` for none. */
export function formatTime(epochMs: number | undefined): string {
  if (epochMs === undefined || !Number.isFinite(epochMs)) return "-";
  const d = new Date(epochMs);
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** What {@link jsonText} prints in place of a value that contains itself. */
export const CIRCULAR = "[Circular]";

/**
 * JSON text for any stored value: `BigInt` becomes a string, `Map` an
 * object (or a list of pairs when its keys are not strings), `Set` an
 * array, an `Error` its name, message and code, and a value met again
 * inside itself (a cycle, which `JSON.stringify` throws on) the string
 * `"[Circular]"`. A value that appears twice without a cycle prints twice.
 *
 * @example
 * ```ts
 * jsonText({ n: 10n, tags: new Set(["a"]) }); // '{\n  "n": "10",\n  "tags": [\n    "a"\n  ]\n}'
 * ```
 */
export function jsonText(value: unknown, indent = 2): string {
  // The objects on the path from the root to the value being written: JSON.stringify calls the
  // replacer depth first with `this` the holder, so the path is cut back to the holder on each call.
  // Each entry keeps the value as stored (a Map, say) and what is written for it (a fresh object).
  const path: { readonly stored: object; readonly written: unknown }[] = [];
  const text = JSON.stringify(
    value,
    function (this: unknown, _key, v: unknown) {
      let at = path.length - 1;
      while (at >= 0 && path[at]?.written !== this) at--;
      path.length = at + 1;
      if (v === null || typeof v !== "object") return typeof v === "bigint" ? v.toString() : v;
      if (path.some((p) => p.stored === v)) return CIRCULAR;
      const written = jsonValue(v);
      path.push({ stored: v, written });
      return written;
    },
    indent,
  );
  return text ?? "null";
}

/** What JSON stands for an object JSON.stringify cannot write as it is. */
function jsonValue(v: object): unknown {
  if (v instanceof Map) {
    const entries = [...(v as Map<unknown, unknown>).entries()];
    return entries.every(([k]) => typeof k === "string") ? (Object.fromEntries(entries) as Record<string, unknown>) : entries;
  }
  if (v instanceof Set) return [...(v as Set<unknown>)];
  if (v instanceof Error) {
    const code = (v as { code?: unknown }).code;
    return { name: v.name, message: v.message, ...(typeof code === "string" && { code }) };
  }
  return v;
}

// eslint-disable-next-line no-control-regex -- the control characters are what it finds
const UNSAFE_ON_A_TERMINAL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` safe to print on a terminal: control characters (an escape
 * sequence in an error message could recolour, retitle or clear the
 * terminal) and the bidirectional overrides that reorder what is shown are
 * written as visible escapes (`\x1b`, `\x0d`, `\u202e`); tabs and line feeds stay.
 *
 * @example
 * ```ts
 * visible("\u001b[31mred"); // "\\x1b[31mred"
 * ```
 */
export function visible(text: string): string {
  return text.replace(UNSAFE_ON_A_TERMINAL, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}
