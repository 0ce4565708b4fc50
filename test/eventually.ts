/**
 * Reads until `check` holds of what was read, and returns that: for what a test cannot await as an event
 * (replication, an index poll, an expiry, a log flush). Fails naming `what` after `ms`.
 */
export async function eventually<T>(
  what: string,
  read: () => Promise<T>,
  check: (value: T) => boolean,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((done) => setTimeout(done, 50));
  }
}
