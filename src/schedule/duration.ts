/**
 * Durations as people write them in a schedule: `90s`, `5m`, `2h`, `1d`,
 * `1w`, `500ms`, or sums such as `1h30m`. Milliseconds everywhere else.
 *
 * @module
 */

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/**
 * The duration `text` names, in ms, or undefined when it is not one.
 *
 * @example
 * ```ts
 * parseDurationText("1h30m"); // 5_400_000
 * parseDurationText("soon");  // undefined
 * ```
 */
export function parseDurationText(text: string): number | undefined {
  const s = text.trim().toLowerCase();
  if (s.length === 0) return undefined;
  const part = /(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)/y;
  let total = 0;
  while (part.lastIndex < s.length) {
    const m = part.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  }
  return Number.isFinite(total) ? total : undefined;
}
