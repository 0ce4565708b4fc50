import { ConcurrentChangeError } from '../errors.js';

/**
 * How a change reaches the directory, shared by definitions, scopes and values: changes of one thing take
 * turns within the process (`KeyedQueue`), and each is a read-apply-write cycle whose write is conditional on
 * what was read, tried again on the fresh state when someone else wrote in between (`untilWritten`).
 */

/** Cycles one change may take before the conflict is given up on (and answered). */
export const MAX_ATTEMPTS = 10;

/**
 * Runs `cycle` until its conditional write succeeds: again after a ConcurrentChangeError, up to
 * `maxAttempts` times, with a short random pause that grows per attempt (writers in step would keep
 * meeting each other). Any other error ends it. `cycle` is told which attempt it is, from 1.
 */
export async function untilWritten<T>(
  cycle: (attempt: number) => Promise<T>,
  maxAttempts = MAX_ATTEMPTS,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await cycle(attempt);
    } catch (error) {
      if (!(error instanceof ConcurrentChangeError) || attempt >= maxAttempts) throw error;
      await backOff(attempt);
    }
  }
}

/** Waits a random moment of up to 4 ms per attempt made. */
export function backOff(attempt: number): Promise<void> {
  return new Promise((done) => setTimeout(done, Math.random() * attempt * 4));
}

/**
 * Runs work one piece at a time per key, in the order it arrives: the read-apply-write cycles on one
 * definition, or on one user's values, never overlap within a process. A key with nothing waiting is
 * forgotten.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const run = (this.tails.get(key) ?? Promise.resolve()).then(work, work);
    const tail = run.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
