import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { LdifSyntaxError } from '../directory/ldif.js';
import { STANDARD_LDIF, readLdifFiles, seed } from '../directory/seed.js';
import { commandDirectory, type CommandDirectory } from './directory.js';

const { values } = parseArgs({
  options: { ldif: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } },
});
if (values.help) {
  process.stdout.write(
    'Usage: npm run seed -- [--ldif FILE ...]\n' +
      'Adds the entries of the LDIF files (default: ldif/base.ldif, attributes.ldif, scopes.ldif) that the directory\n' +
      'lacks. Existing entries are never changed; they are reported as unchanged or different.\n' +
      'Uses LDAP_URL when set, otherwise the embedded directory in DATA_DIR (started for the seed if needed).\n',
  );
  process.exit(0);
}

const config = loadConfig();
let connection: CommandDirectory | undefined;
try {
  // Parse everything before touching the directory: a malformed file writes nothing.
  const entries = await readLdifFiles(values.ldif ?? STANDARD_LDIF);
  connection = await commandDirectory(config, true);
  const report = await seed(connection.directory, entries);
  process.stdout.write(
    `added ${report.added.length}, unchanged ${report.unchanged.length}, different ${report.different.length}\n`,
  );
  for (const dn of report.different) process.stdout.write(`different: ${dn}\n`);
} catch (error) {
  process.stderr.write(
    `${error instanceof LdifSyntaxError ? 'malformed LDIF: ' : ''}${(error as Error).message}\n`,
  );
  process.exitCode = 1;
} finally {
  await connection?.close();
}
