import { setFlagsFromString } from 'node:v8';
import { pino } from 'pino';
import { ConfigError, loadConfig } from './config.js';
import { SlapdError } from './directory/slapd.js';
import { DOCS_ROOT } from './http/docs.js';
import { API_ROOT } from './http/openapi.js';
import { startService } from './server.js';

// The old generation may grow to 1.3 times what the last full collection left, not V8's default of up
// to several times: the in-memory index is most of the heap and long-lived, while requests make
// short-lived garbage, some of which outlives young collections under load. With 100 000 definitions
// this keeps peak RSS under load below 300 MB (about 400–550 MiB with the default) at no measurable
// cost in throughput. The young generation keeps V8's default size: at a quarter of it
// (--max-semi-space-size=4) reads cost twice the CPU, garbage collected on four threads, and loading
// 100 000 definitions took 10 s instead of 4 s. NODE_OPTIONS or node's own flags can still set heap limits.
setFlagsFromString('--heap-growing-percent=30');

async function main(): Promise<void> {
  const config = loadConfig();
  // Readable lines in a developer's terminal; JSON lines everywhere else.
  const pretty = process.stdout.isTTY && process.env.NODE_ENV !== 'production';
  // Lines are collected up to 4 KiB and then written synchronously (one write for a dozen lines instead of
  // one per line; about 3 µs less per request), and at least every 250 ms, so a quiet service's lines are
  // not held back; pino writes what is left when the process exits. Synchronous writes keep memory
  // bounded: pino's asynchronous mode re-copies its growing buffer on every line, which under load
  // doubled the heap, and a slow reader of stdout holds requests up rather than letting memory grow.
  const log = pretty
    ? pino({ level: config.logLevel, transport: { target: 'pino-pretty' } })
    : pino({ level: config.logLevel }, pino.destination({ sync: true, minLength: 4096, periodicFlush: 250 }));
  const service = await startService(config, log);

  const docs = `${service.url}${DOCS_ROOT}/`;
  service.log.info(
    { url: service.url, docs, directory: service.slapd?.url ?? config.ldapUrl },
    'attribute registry listening',
  );
  if (service.devKey) {
    const dataDir = process.env.DATA_DIR ? `DATA_DIR=${process.env.DATA_DIR} ` : '';
    process.stdout.write(
      `\nTry it (the token comes from the development key in ${config.dataDir}):\n` +
        `  curl -s -H "Authorization: Bearer $(${dataDir}npm run -s token)" '${service.url}${API_ROOT}/attributes?pattern=edu&limit=3'\n` +
        `or open the API docs page, ${docs}, and paste that token under "Authorize".\n\n`,
    );
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    service.log.info({ signal }, 'stopping');
    await service.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof SlapdError) {
    process.stderr.write(`${error.message}\n`);
  } else {
    process.stderr.write(`could not start: ${(error as Error)?.stack ?? String(error)}\n`);
  }
  process.exit(1);
});
