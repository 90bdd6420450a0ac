/**
 * Who holds a run's lease, as stores report it (`RunLockedError`, lease
 * records). Plain data: no behaviour.
 *
 * @module
 */

/** Who holds a run's lease. */
export interface LeaseHolder {
  /** A unique id of the holding driver. */
  readonly owner: string;
  /** Its process id. */
  readonly pid: number;
  /** Its host name. */
  readonly host: string;
  /** When the lease expires unless renewed (epoch ms). */
  readonly expiresAt: number;
}
