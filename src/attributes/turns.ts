/**
 * Runs work one piece at a time per key, in the order it arrives: the read-apply-write cycles on one
 * definition, or on one user's values, never overlap within a process. A key with nothing waiting is
 * forgotten.
 */
export class Turns {
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
