// How a call cancelled through its AbortSignal rejects — fit, predictAsync and
// evaluateAsync alike: an AbortError with code 'ABORT_ERR' and the signal's
// reason as its cause, the shape of Node's own and fetch's, so one
// `err instanceof AbortError` (or `err.name === 'AbortError'`) catches them all.
import type { History } from './fit-loop';

/** How fit, predictAsync and evaluateAsync reject when their `signal` aborts; `cause` is the signal's reason. */
export class AbortError extends Error {
  /** 'ABORT_ERR', as Node's and fetch's AbortError. */
  readonly code = 'ABORT_ERR';
  /** fit's completed epochs; null for predictAsync and evaluateAsync, which train nothing. */
  readonly history: History | null;

  constructor(message: string, reason: unknown, history: History | null = null) {
    super(message, { cause: reason });
    this.name = 'AbortError';
    this.history = history;
  }
}
