/**
 * The words the run loop and its features share: how an attempt ended,
 * why a run stops, how an activation ended as told to the feature that
 * owns it, and how the engine's work ended. Types only, so the loop and
 * the features can name them without importing each other.
 *
 * @module
 */
import type { RunState } from "../state/run-state.js";
import { type NodeFailedError, type RunCancelledError } from "./errors.js";
import { type PendingWait } from "../state/waits.js";

/** How a scheduler's work ended. */
export type SchedulerOutcome =
  | { readonly status: "succeeded"; readonly state: RunState; readonly outputs?: { readonly value: unknown } }
  | { readonly status: "failed"; readonly state: RunState; readonly error: unknown }
  | { readonly status: "cancelled"; readonly state: RunState; readonly reason: string }
  | { readonly status: "waiting"; readonly state: RunState; readonly waits: readonly PendingWait[] };

/** How one attempt ended. */
export type AttemptResult =
  | { readonly kind: "ok"; readonly value: unknown; readonly attempt: number; readonly startedAt: number; readonly route?: string }
  | { readonly kind: "error"; readonly error: unknown; readonly attempt: number }
  | { readonly kind: "cancelled" };

/** Why the run stops. */
export type Stop = { readonly kind: "failed"; readonly error: unknown } | { readonly kind: "cancelled"; readonly reason: string };

/** How an activation ended, as told to the feature that owns it. */
export type ActivationEnd =
  | { readonly kind: "ok"; readonly value: unknown }
  | { readonly kind: "error"; readonly error: NodeFailedError }
  | { readonly kind: "cancelled"; readonly error: RunCancelledError };

/** A feature that owns some activations (graphFn steps, map elements) and hears how each ended. */
export interface ActivationOwner {
  /** Returns false when `id` is not one of its activations. A failure it takes does not fail the run. */
  settled(id: string, end: ActivationEnd): boolean;
}

/** A graphFn body, as the loop sees it. */
export interface Coordinator {
  /** True while the body has not settled (it counts as outstanding, never as busy). */
  readonly running: boolean;
  /** The body's result once it returned. */
  readonly result: { readonly value: unknown } | undefined;
}

/** The map nodes of a run, as the loop counts them. */
export interface MapNodes {
  /**
   * Map nodes started and not settled: each counts as outstanding while its
   * elements run, never as busy (its elements are; a map whose elements all
   * wait is waiting).
   */
  readonly running: number;
}

/** A map element's place in its map node. */
export interface ElementOf {
  readonly map: string;
  readonly item: unknown;
  readonly index: number;
}
