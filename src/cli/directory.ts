import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { runningSlapdUrl, startSlapd, type RunningSlapd } from '../directory/slapd.js';
import { Directory } from '../ldap/directory.js';

/** A command's connection to the directory, and what to close when the command is done. */
export interface CommandDirectory {
  directory: Directory;
  close(): Promise<void>;
}

/**
 * The directory a command works on: LDAP_URL with its credentials and TLS settings, or else the embedded
 * directory of DATA_DIR, bound as its admin. When that is not running, `startEmbedded` starts it for the
 * command (and `close` stops it again); otherwise the command is refused.
 */
export async function commandDirectory(config: Config, startEmbedded: boolean): Promise<CommandDirectory> {
  let url = config.ldapUrl;
  let bindDn = config.ldapBindDn;
  let password = config.ldapBindPassword;
  let slapd: RunningSlapd | undefined;
  if (!url) {
    url = await runningSlapdUrl(config.dataDir);
    if (!url && !startEmbedded) {
      throw new Error(`No embedded directory is running in ${config.dataDir}; start the service first`);
    }
    if (!url) {
      slapd = await startSlapd({
        dataDir: config.dataDir,
        suffix: config.baseDn,
        slapdPath: config.slapdPath,
      });
      url = slapd.url;
    }
    bindDn = `cn=admin,${config.baseDn}`;
    password = slapd?.password ?? (await readFile(join(config.dataDir, 'directory-password'), 'utf8')).trim();
  }
  const directory = new Directory({
    url,
    bindDn,
    bindPassword: password,
    baseDn: config.baseDn,
    poolSize: 1,
    connectTimeoutMs: config.ldapConnectTimeoutMs,
    operationTimeoutMs: config.ldapOperationTimeoutMs,
    maxPending: config.ldapMaxPending,
    // LDAP_TLS_CA_FILE is only allowed with LDAP_URL, so an embedded directory started above has no CA to read.
    tlsCa: config.ldapTlsCaFile ? await readFile(config.ldapTlsCaFile, 'utf8') : undefined,
    startTls: config.ldapStartTls,
  });
  return {
    directory,
    async close() {
      await directory.close();
      await slapd?.stop();
    },
  };
}
