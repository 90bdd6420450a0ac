/**
 * Durations as people write them, the one grammar of taskloom (the CLI's
 * `--older-than 30d`, a schedule's `"5m"` or `repeat: { every: "1h30m" }`,
 * a stage sweep's `--refresh-every 30s`). Parsed to milliseconds, the unit
 * used everywhere else; formatted back for display.
 *
 * The grammar: after trimming, one or more parts written back to back,
 * each a decimal number (`30`, `1.5`) and a unit, `ms`, `s`, `m`, `h`, `d`
 * or `w`, in any case, optionally with spaces between the number and its
 * unit (`1 h`). Parts add up (`1d12h`, `1h30m`). Nothing else: no sign, no
 * bare number, no space between parts (`1d 2h`), no word units (`30 days`).
 * This is the union of the two grammars taskloom had before (the CLI's,
 * lower case without spaces, and the schedule's), so no duration accepted
 * before is refused now.
 *
 * @module
 */
import { InvalidOptionError } from "../errors.js";

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
type Unit = keyof typeof UNIT_MS;

/**
 * The duration `text` names, in ms, or undefined when it is not one.
 *
 * @example
 * ```ts
 * parseDurationText("1h30m"); // 5_400_000
 * parseDurationText("2 H");   // 7_200_000
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
    total += Number(m[1]) * UNIT_MS[m[2] as Unit];
  }
  return Number.isFinite(total) ? total : undefined;
}

/**
 * Parses a duration to milliseconds; throws `InvalidOptionError` naming
 * `option` when the text is not one.
 *
 * @example
 * ```ts
 * parseDuration("30d");   // 2_592_000_000
 * parseDuration("1h30m"); // 5_400_000
 * ```
 */
export function parseDuration(text: string, option = "duration"): number {
  const ms = parseDurationText(text);
  if (ms === undefined) {
    throw new InvalidOptionError(option, `must be a duration such as 30d, 12h, 90m, 45s or 1d12h (got "${text}")`);
  }
  return ms;
}

/**
 * A short, readable duration: `12ms`, `1.25s`, `3m 05s`, `2h 03m`, `3d 4h`.
 *
 * @example
 * ```ts
 * formatDuration(1_250); // "1.25s"
 * ```
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "-";
  // Each unit ends where its rounding reaches the next one: 999.6 ms is "1.00s", 9,999 ms "10.0s", 59,960 ms "1m 00s"
  // (they were "1000ms", "10.00s" and "60.0s").
  if (ms < 999.5) return `${Math.round(ms)}ms`;
  if (ms < 9_995) return `${(ms / 1_000).toFixed(2)}s`;
  if (ms < 59_950) return `${(ms / 1_000).toFixed(1)}s`;
  if (ms < 60_000) return "1m 00s";
  const pad = (n: number): string => String(n).padStart(2, "0");
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m ${pad(Math.floor((ms % 60_000) / 1_000))}s`;
  if (ms < 86_400_000) {
    const minutes = Math.floor((ms % 3_600_000) / 60_000);
    return `${Math.floor(ms / 3_600_000)}h${minutes ? ` ${pad(minutes)}m` : ""}`;
  }
  const hours = Math.floor((ms % 86_400_000) / 3_600_000);
  return `${Math.floor(ms / 86_400_000)}d${hours ? ` ${hours}h` : ""}`;
}
