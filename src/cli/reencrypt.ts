import { parseArgs } from 'node:util';
import { everyDefinition } from '../attributes/query.js';
import { loadConfig } from '../config.js';
import { LdapAttributeStore } from '../ldap/attribute-store.js';
import { createValueService } from '../server.js';
import { commandDirectory, type CommandDirectory } from './directory.js';

const { values: options } = parseArgs({
  options: { attribute: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
});
if (options.help) {
  process.stdout.write(
    'Usage: npm run reencrypt -- [--attribute NAME]\n' +
      'Rewrites stored attribute values so that values of encrypted definitions are encrypted with the key\n' +
      'named by VALUE_ENCRYPTION_WRITE_KEY (or the first of VALUE_ENCRYPTION_KEYS), and values of the others\n' +
      "are clear, whatever the definition's status and whether or not the value was written by this service.\n" +
      'Every key that wrote a stored value must still be listed. Safe to run again; safe while the\n' +
      'service runs. Uses LDAP_URL when set, otherwise the running embedded directory in DATA_DIR.\n',
  );
  process.exit(0);
}

const config = loadConfig();
let connection: CommandDirectory | undefined;
try {
  connection = await commandDirectory(config, false);
  const { directory } = connection;
  const definitions = new LdapAttributeStore(directory);
  const service = createValueService(directory, definitions, config);
  // Every definition, inactive ones too: their stored values are kept readable as well.
  const { entries } = await definitions.list(everyDefinition());
  const count = await service.reencrypt(
    entries.map((e) => e.definition),
    options.attribute,
  );
  process.stdout.write(`rewrote ${count} value${count === 1 ? '' : 's'}\n`);
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await connection?.close();
}
