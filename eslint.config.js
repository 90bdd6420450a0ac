// ESLint flat config (`npm run lint`): typescript-eslint's type-aware recommended rules over
// src, test, examples and bench; plain JavaScript files get ESLint's recommended rules.
import js from "@eslint/js";
import { defineConfig, globalIgnores } from "eslint/config";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig(
  globalIgnores(["dist/", "docs/api/", "coverage/", ".taskloom/", ".perf/", "bench/results/", "test/fixtures/consumer/", "test/fixtures/snippets/"]),
  {
    files: ["**/*.{js,mjs,cjs}"],
    extends: [js.configs.recommended],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    files: ["**/*.ts", "**/*.mts"],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: {
        projectService: { allowDefaultProject: ["vitest.config.ts"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // A promise nobody awaits loses its rejection (an unhandled rejection, or a write that is
      // not durable when the caller thinks it is): already in recommended-type-checked, named here
      // because the engine depends on them.
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      // A rejection passes on what it was given, as a `throw` does: `reject(signal.reason)` (an abort
      // rejects with the signal's reason, whatever its type, as fetch does) and `reject(error)` with a
      // caught `unknown`. The same allowances as only-throw-error's defaults; rejecting with a value
      // known not to be an Error (a string, a plain object) is still reported.
      "@typescript-eslint/prefer-promise-reject-errors": ["error", { allowThrowingAny: true, allowThrowingUnknown: true }],
      // Off: `async` without `await` is deliberate here. Node bodies are `async` by contract, and a
      // store method that is `async` turns a synchronous throw into a rejection, which the
      // RunStore contract relies on; removing `async` would change behaviour, not style.
      "@typescript-eslint/require-await": "off",
      // The code names a deliberately unused binding with a leading underscore, e.g.
      // `const { lease: _lease, ...rest } = record` to drop a field.
      "@typescript-eslint/no-unused-vars": [
        "error",
        {
          argsIgnorePattern: "^_",
          varsIgnorePattern: "^_",
          caughtErrorsIgnorePattern: "^_",
          destructuredArrayIgnorePattern: "^_",
          ignoreRestSiblings: true,
        },
      ],
    },
  },
);
