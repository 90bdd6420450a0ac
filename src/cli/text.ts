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

/**
 * JSON text for any stored value: `BigInt` becomes a string, `Map` an
 * object (or a list of pairs when its keys are not strings), `Set` an
 * array, an `Error` its name, message and code.
 *
 * @example
 * ```ts
 * jsonText({ n: 10n, tags: new Set(["a"]) }); // '{\n  "n": "10",\n  "tags": [\n    "a"\n  ]\n}'
 * ```
 */
export function jsonText(value: unknown, indent = 2): string {
  const text = JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (typeof v === "bigint") return v.toString();
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
    },
    indent,
  );
  return text ?? "null";
}
