import { resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { ConfigError, loadConfig, type Config } from './config.js';
import { SlapdError } from './directory/slapd.js';
import { DOCS_ROOT } from './http/docs.js';
import { createLog } from './log.js';
import { API_ROOT } from './http/openapi.js';
import { startService } from './server.js';

// The old generation may grow to 1.3 times what the last full collection left, not V8's default of up
// to several times: the in-memory index is most of the heap and long-lived, while requests make
// short-lived garbage. The young generation keeps V8's default size, which reads need. NODE_OPTIONS or
// node's own flags can still set heap limits.
setFlagsFromString('--heap-growing-percent=30');

/**
 * Readable lines in a developer's terminal; JSON lines everywhere else, and wherever pino-pretty (a
 * development dependency) is not installed.
 */
function prettyLogs(config: Config): boolean {
  if (!process.stdout.isTTY || config.production) return false;
  try {
    import.meta.resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  const { log, dropped, flush } = createLog({ level: config.logLevel, pretty: prettyLogs(config) });
  // Whatever ends the process (a signal, a failed start), the lines still buffered are written first.
  process.once('exit', flush);
  const service = await startService(config, log, { logLinesDropped: dropped });

  const docs = `${service.url}${DOCS_ROOT}/`;
  service.log.info(
    { url: service.url, docs, directory: service.slapd?.url ?? config.ldapUrl },
    'attribute registry listening',
  );
  if (service.devKey) {
    const dataDir = config.dataDir === resolve('.data') ? '' : `DATA_DIR=${config.dataDir} `;
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
