/**
 * Escaping for the HTML report: text and attribute values, and JSON
 * embedded in a `<script>` element (where `</script>` or `<!--` inside a
 * string would end or confuse the element).
 *
 * @module
 */

const ENTITIES: Readonly<Record<string, string>> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/**
 * Escapes text for HTML content and quoted attribute values.
 *
 * @example
 * ```ts
 * escapeHtml('<b a="1">'); // "&lt;b a=&quot;1&quot;&gt;"
 * ```
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

/** JSON safe to place inside a `<script>` element. */
export function scriptJson(value: unknown): string {
  return (JSON.stringify(value) ?? "null")
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** JavaScript source made safe to inline in a `<script>` element. */
export function inlineScript(source: string): string {
  // \x3C reads as "<" inside strings, templates and regular expressions alike, and ends nothing in HTML.
  return source.replace(/<(\/script|!--)/gi, "\\x3C$1");
}
