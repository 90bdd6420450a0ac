/**
 * Durations as people type them on a command line: `30d`, `12h`, `90m`,
 * `45s`, `500ms`, `2w`, or sums such as `1d12h`. Parsed to milliseconds,
 * the unit used everywhere else in taskloom; formatted back for display.
 *
 * @module
 */
import { InvalidOptionError } from "../index.js";

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
type Unit = keyof typeof UNIT_MS;

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
  const s = text.trim();
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/y;
  let total = 0;
  let matched = false;
  while (part.lastIndex < s.length) {
    const m = part.exec(s);
    if (!m) {
      matched = false;
      break;
    }
    total += Number(m[1]) * UNIT_MS[m[2] as Unit];
    matched = true;
  }
  if (!matched || !Number.isFinite(total)) {
    throw new InvalidOptionError(option, `must be a duration such as 30d, 12h, 90m, 45s or 1d12h (got "${text}")`);
  }
  return total;
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
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(ms < 10_000 ? 2 : 1)}s`;
  const pad = (n: number): string => String(n).padStart(2, "0");
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m ${pad(Math.floor((ms % 60_000) / 1_000))}s`;
  if (ms < 86_400_000) {
    const minutes = Math.floor((ms % 3_600_000) / 60_000);
    return `${Math.floor(ms / 3_600_000)}h${minutes ? ` ${pad(minutes)}m` : ""}`;
  }
  const hours = Math.floor((ms % 86_400_000) / 3_600_000);
  return `${Math.floor(ms / 86_400_000)}d${hours ? ` ${hours}h` : ""}`;
}
