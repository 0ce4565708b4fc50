import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { runningSlapdUrl } from '../directory/slapd.js';
import { LdapAttributeStore } from '../ldap/attribute-store.js';
import { Directory } from '../ldap/directory.js';
import { createValueService } from '../server.js';

const { values: options } = parseArgs({
  options: { attribute: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
});
if (options.help) {
  process.stdout.write(
    'Usage: npm run reencrypt -- [--attribute NAME]\n' +
      'Rewrites stored attribute values so that values of encrypted definitions are encrypted with the key\n' +
      'named by VALUE_ENCRYPTION_WRITE_KEY (or the first of VALUE_ENCRYPTION_KEYS), and values of the others\n' +
      'are clear. Every key that wrote a stored value must still be listed. Safe to run again; safe while the\n' +
      'service runs. Uses LDAP_URL when set, otherwise the running embedded directory in DATA_DIR.\n',
  );
  process.exit(0);
}

const config = loadConfig();
try {
  let url = config.ldapUrl;
  let bindDn = config.ldapBindDn;
  let password = config.ldapBindPassword;
  if (!url) {
    url = await runningSlapdUrl(config.dataDir);
    if (!url)
      throw new Error(`No embedded directory is running in ${config.dataDir}; start the service first`);
    bindDn = `cn=admin,${config.baseDn}`;
    password = (await readFile(join(config.dataDir, 'directory-password'), 'utf8')).trim();
  }
  const directory = new Directory({
    url,
    bindDn,
    bindPassword: password,
    baseDn: config.baseDn,
    poolSize: 1,
    connectTimeoutMs: config.ldapConnectTimeoutMs,
    operationTimeoutMs: config.ldapOperationTimeoutMs,
  });
  try {
    const service = createValueService(directory, new LdapAttributeStore(directory), config);
    const count = await service.reencrypt(options.attribute);
    process.stdout.write(`rewrote ${count} value${count === 1 ? '' : 's'}\n`);
  } finally {
    await directory.close();
  }
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exitCode = 1;
}
