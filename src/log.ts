import { pino, type Logger } from 'pino';

/** The service's own log: where its lines go, and what became of those that could not be written. */
export interface ServiceLog {
  log: Logger;
  /** Lines dropped because the buffer was full (the reader of stdout fell behind). */
  dropped(): number;
  /** Writes what is buffered, synchronously: at shutdown, before the process exits. */
  flush(): void;
  /** Writes what is buffered and stops writing (the output may be closed after). */
  close(): void;
}

export interface LogOptions {
  level: string;
  /** Readable lines for a developer's terminal (needs pino-pretty); JSON lines otherwise. */
  pretty?: boolean;
  /** Where lines go (default: stdout). */
  fd?: number;
  /** Lines are written once this much is buffered (under 16 KiB), or at least every `flushMs`. */
  batchBytes?: number;
  flushMs?: number;
  /** What may wait to be written; beyond it, lines are dropped and counted, and nothing waits. */
  maxBufferedBytes?: number;
}

/**
 * JSON lines written in batches, off the request's path: a line is appended to a buffer, and the
 * buffer is written asynchronously when it holds `batchBytes` or every `flushMs`. Memory stays bounded
 * by `maxBufferedBytes`: when the reader of the output falls that far behind, new lines are dropped
 * and counted (the `log_lines_dropped_total` metric) rather than holding requests up or growing.
 */
export function createLog({
  level,
  pretty = false,
  fd = 1,
  batchBytes = 8 * 1024,
  flushMs = 1000,
  maxBufferedBytes = 8 * 1024 * 1024,
}: LogOptions): ServiceLog {
  if (pretty) {
    const log = pino({ level, transport: { target: 'pino-pretty' } });
    return { log, dropped: () => 0, flush() {}, close: () => log.flush() };
  }
  const destination = pino.destination({
    fd,
    sync: false,
    minLength: batchBytes,
    maxLength: maxBufferedBytes,
    periodicFlush: flushMs,
  });
  let dropped = 0;
  destination.on('drop', () => dropped++);
  return {
    log: pino({ level }, destination),
    dropped: () => dropped,
    flush: () => destination.flushSync(),
    close: () => {
      destination.flushSync();
      destination.destroy();
    },
  };
}
