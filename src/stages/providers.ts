/**
 * Dependency injection for agents. A stage declares providers by name
 * (`{ deps: { client: provideClient } }`); before its agent runs, each is
 * resolved and the agent receives the values in `ctx.deps`, typed from the
 * providers' return types.
 *
 * A {@link ProviderScope} lives as long as one task is being processed:
 * a provider is called at most once per scope (two stages that declare the
 * same provider function share its value), concurrent asks share one
 * promise, and a provider that throws is forgotten so a retry calls it
 * again. A provider may return `{ value, dispose }`: the agent gets
 * `value`, and `dispose` runs when the scope is disposed, after the task,
 * whatever happened to it (newest first).
 *
 * @module
 */
import type { StageTask } from "./stage-task.js";

/** What a provider receives besides the task. */
export interface ProviderContext {
  /** The runner run id (or the job's, for job handlers). */
  readonly runId: string;
  /** The stage whose agent asked first. */
  readonly stageId: string;
  /** Aborted when the task's processing is cancelled. */
  readonly signal: AbortSignal;
}

/** A value with its clean-up: what a provider returns when the value must be disposed. */
export interface Provided<T> {
  /** What the agent receives. */
  readonly value: T;
  /** Called once, after the task, whatever happened. */
  dispose(): void | Promise<void>;
}

/**
 * Makes one dependency for one task. May be async; may return
 * `{ value, dispose }` to be disposed after the task.
 *
 * @example
 * ```ts
 * const provideClient: Provider<ApiClient> = async () => {
 *   const client = await ApiClient.connect();
 *   return { value: client, dispose: () => client.close() };
 * };
 * ```
 */
export type Provider<T = unknown> = (task: StageTask, context: ProviderContext) => T | Provided<T> | Promise<T | Provided<T>>;

/** Providers by name. */
export type Providers = Readonly<Record<string, Provider>>;

/** What a provider's result gives the agent: `value` of `{ value, dispose }`, else the result itself. */
export type ProvidedValue<R> = R extends Provided<infer V> ? V : R;

/** The `ctx.deps` an agent receives for providers `P`. */
export type ProvidedDeps<P extends Providers | undefined> = P extends Providers
  ? { readonly [K in keyof P]: ProvidedValue<Awaited<ReturnType<P[K]>>> }
  : Record<string, never>;

function isProvided(value: unknown): value is Provided<unknown> {
  return typeof value === "object" && value !== null && "value" in value && typeof (value as { dispose?: unknown }).dispose === "function";
}

/**
 * The providers' values for one task: each provider is called once,
 * values are disposed together.
 *
 * @example
 * ```ts
 * const scope = new ProviderScope();
 * try { const deps = await scope.resolve({ client: provideClient }, task, context); … }
 * finally { await scope.dispose(); }
 * ```
 */
export class ProviderScope {
  readonly #cache = new Map<Provider, Promise<unknown>>();
  readonly #disposers: (() => void | Promise<void>)[] = [];
  #disposed = false;

  /**
   * The deps of an agent without providers: an empty object, at once (no
   * promise per call); like {@link ProviderScope.resolve}, refused once the
   * scope was disposed.
   */
  none(): Record<string, never> {
    if (this.#disposed) throw new Error("taskloom: this provider scope was disposed; providers resolve only while the task is processed");
    return {};
  }

  /** Resolves every provider of `providers` (once per scope each) and returns the values by name. */
  async resolve<P extends Providers>(providers: P | undefined, task: StageTask, context: ProviderContext): Promise<ProvidedDeps<P>> {
    if (this.#disposed) throw new Error("taskloom: this provider scope was disposed; providers resolve only while the task is processed");
    const entries = Object.entries(providers ?? {});
    const values = await Promise.all(entries.map(([, provider]) => this.#value(provider, task, context)));
    return Object.fromEntries(entries.map(([name], i) => [name, values[i]])) as ProvidedDeps<P>;
  }

  #value(provider: Provider, task: StageTask, context: ProviderContext): Promise<unknown> {
    let pending = this.#cache.get(provider);
    if (!pending) {
      pending = Promise.resolve()
        .then(() => provider(task, context))
        .then((result: unknown) => {
          if (!isProvided(result)) return result;
          if (this.#disposed) {
            // Resolved after the task ended: dispose at once rather than leak it.
            void Promise.resolve()
              .then(() => result.dispose())
              .catch(() => undefined);
          } else {
            this.#disposers.push(() => result.dispose());
          }
          return result.value;
        });
      pending.catch(() => this.#cache.delete(provider));
      this.#cache.set(provider, pending);
    }
    return pending;
  }

  /**
   * @internal Disposes the scope at once when no provider gave a value to dispose of (true); false leaves
   * it to {@link ProviderScope.dispose}. Every task's run ends with its scope, and most have no provider:
   * this spares them an async call.
   */
  disposeIfIdle(): boolean {
    if (this.#disposers.length > 0) return false;
    this.#disposed = true;
    this.#cache.clear();
    return true;
  }

  /** Disposes every value that has a `dispose`, newest first; resolves to the errors they threw (never rejects). */
  async dispose(): Promise<unknown[]> {
    this.#disposed = true;
    const errors: unknown[] = [];
    for (const dispose of this.#disposers.splice(0).reverse()) {
      try {
        await dispose();
      } catch (error) {
        errors.push(error);
      }
    }
    this.#cache.clear();
    return errors;
  }
}
