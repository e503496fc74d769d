/**
 * What the primary of `duet-tf serve --workers N` and its workers tell each other (node:cluster
 * IPC). The primary decides which model version is served; a worker loads what it is told, and
 * reports before it listens, so every worker serves the same model:
 *
 * - start: the primary forks with `DUET_SERVE_VERSION` set; the worker loads and warms that
 *   version, sends `loaded` (or `failed` and exits); the primary answers `listen` once the model
 *   matches the others'; the worker listens and sends `ready`.
 * - reload (SIGHUP, polling, or a restarted worker that loaded another model): `prepare` to every
 *   worker, each loads and warms beside the served model and sends `prepared` (or
 *   `prepare-failed`); if all agree the primary sends `activate`, else `discard`.
 */

/** Environment variable a worker reads its version from ('' for an unversioned folder). */
export const VERSION_ENV = 'DUET_SERVE_VERSION';

/** Primary → worker. */
export type PrimaryMessage =
  | { duet: 'listen' }
  | { duet: 'prepare'; version: number | null }
  | { duet: 'activate' }
  | { duet: 'discard' };

/** Worker → primary. */
export type WorkerMessage =
  | { duet: 'loaded'; version: number | null; fingerprint: string }
  | { duet: 'failed'; reason: string }
  | { duet: 'ready'; url: string }
  | { duet: 'prepared'; version: number | null; fingerprint: string }
  | { duet: 'prepare-failed'; reason: string }
  | { duet: 'activated' }
  /** Sent every half second: the worker's readiness (for the primary's health port). */
  | { duet: 'state'; status: 'ready' | 'overloaded' | 'draining' | 'failed'; version: number | null };

/** Whether an IPC message is one of ours. */
export function isDuetMessage<M extends { duet: string }>(message: unknown): message is M {
  return typeof message === 'object' && message !== null &&
    typeof (message as { duet?: unknown }).duet === 'string';
}
