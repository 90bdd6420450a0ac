/**
 * The names an event gives an activation besides its `nodeId` (issue 15,
 * "one word per thing"): the activation id, the graph node, and the visit
 * number or element index.
 *
 * Transition (one release): an event's `nodeId` still holds the
 * activation id (`n#2`, `m[7]`), as before, because callers read it so.
 * When the activation is not its graph node itself (a later visit, a map
 * element) the event also carries `activationId`, `graphNodeId` and
 * `visit` or `index`; for a plain activation they would only repeat
 * `nodeId`, so they are left out and those events are unchanged.
 *
 * @module
 */
import type { ElementOf } from "./loop-types.js";
import type { Visit } from "./routing-ready-set.js";

/** The extra names of an activation in an event. */
export interface ActivationFields {
  readonly activationId?: string;
  readonly graphNodeId?: string;
  readonly visit?: number;
  readonly index?: number;
}

const NONE: ActivationFields = Object.freeze({});

/** Names activations for events, from the frontier's visits and the map fan-out's elements. */
export class ActivationNames {
  readonly #visit: (id: string) => Visit | undefined;
  readonly #element: (id: string) => ElementOf | undefined;

  constructor(visit: (id: string) => Visit | undefined, element: (id: string) => ElementOf | undefined) {
    this.#visit = visit;
    this.#element = element;
  }

  /** The fields to add to an event about activation `id` (none for a plain activation). */
  of(id: string): ActivationFields {
    const element = this.#element(id);
    if (element) return { activationId: id, graphNodeId: this.#visit(element.map)?.nodeId ?? element.map, index: element.index };
    const visit = this.#visit(id);
    if (visit && visit.visit > 1) return { activationId: id, graphNodeId: visit.nodeId, visit: visit.visit };
    return NONE;
  }

  /**
   * Adds the fields of {@link of} to an event about activation `id` (in
   * place, and only when there are any: a spread in every event literal
   * costs more than the event itself on the hot path).
   */
  tag<E extends object>(id: string, event: E): E & ActivationFields {
    const fields = this.of(id);
    return fields === NONE ? event : Object.assign(event, fields);
  }
}
