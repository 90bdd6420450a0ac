/**
 * How the CLI prints a thrown value that is not an Error (a plain object
 * thrown by a graph module or a node body): its message or its JSON, never
 * "[object Object]".
 */
import { describe, expect, it } from "vitest";
import { errorDetails, errorLine, errorSummary } from "../src/cli/errors.js";

describe("thrown values that are not errors", () => {
  it("prints a plain object's message, or its JSON when it has none", () => {
    expect(errorLine({ code: "E_QUOTA", message: "over quota" })).toBe("error[E_QUOTA]: over quota");
    expect(errorSummary({ status: 503, retryable: true })).toBe('{"status":503,"retryable":true}');
    expect(errorLine("plain text", true)).toBe("error[UNEXPECTED]: plain text");
  });

  it("prints causes that are plain objects in --verbose details", () => {
    const details = errorDetails(new Error("outer", { cause: { status: 503 } }));
    expect(details).toContain('caused by: {"status":503}');
    expect(errorDetails({ status: 503 })).toBe('{"status":503}');
  });

  it("still prints values JSON cannot hold", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(errorSummary(cyclic)).toBe("[object Object]");
    expect(errorSummary(10n)).toBe("10");
    expect(errorSummary(undefined)).toBe("undefined");
    expect(errorSummary(null)).toBe("null");
  });
});
