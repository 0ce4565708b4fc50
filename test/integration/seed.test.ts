import { spawnSync } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { Attribute, Change, Client } from 'ldapts';
import { LdifSyntaxError } from '../../src/directory/ldif.js';
import { STANDARD_LDIF, readLdifFiles, seed } from '../../src/directory/seed.js';
import { startSlapd, type RunningSlapd } from '../../src/directory/slapd.js';
import { adminDirectory, rawEntry, tempDir } from './harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('seeding from LDIF', () => {
  let slapd: RunningSlapd;
  let dataDir: string;

  before(async () => {
    dataDir = await tempDir('seed');
    slapd = await startSlapd({ dataDir, suffix: 'o=jans' });
  });
  after(async () => {
    await slapd?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('adds what is missing, then reports everything unchanged', async () => {
    const directory = adminDirectory(slapd);
    try {
      const entries = await readLdifFiles(STANDARD_LDIF);
      const first = await seed(directory, entries);
      // The tree (5 entries), 71 definitions and 5 scopes.
      expect(first.added).to.have.length(81);
      const second = await seed(directory, entries);
      expect(second).to.deep.equal({ added: [], unchanged: entries.map((e) => e.dn), different: [] });
    } finally {
      await directory.close();
    }
  });

  it('reports an entry changed since, and leaves it alone', async () => {
    const dn = 'inum=08E2,ou=attributes,o=jans';
    const client = new Client({ url: slapd.url });
    await client.bind(slapd.bindDn, slapd.password);
    await client.modify(
      dn,
      new Change({
        operation: 'replace',
        modification: new Attribute({ type: 'displayName', values: ['Dept'] }),
      }),
    );
    await client.unbind();
    const directory = adminDirectory(slapd);
    try {
      const report = await seed(directory, await readLdifFiles(STANDARD_LDIF));
      expect(report.different).to.deep.equal([dn]);
      expect(report.added).to.deep.equal([]);
      expect((await rawEntry(slapd, dn)).displayName).to.deep.equal(['Dept']);
    } finally {
      await directory.close();
    }
  });

  it('refuses a malformed file with its line number before writing anything', async () => {
    const file = join(dataDir, 'broken.ldif');
    await writeFile(
      file,
      'dn: ou=fine,o=jans\nobjectClass: organizationalUnit\nou: fine\n\ndn: ou=broken,o=jans\nthis line is wrong\n',
    );
    let error: unknown;
    await readLdifFiles([file]).catch((e: unknown) => (error = e));
    expect(error).to.be.instanceOf(LdifSyntaxError);
    expect((error as Error).message).to.contain(`${file}:6:`);
    const cli = spawnSync('npx', ['tsx', 'src/cli/seed.ts', '--ldif', file], {
      cwd: ROOT,
      env: cliEnv(),
      encoding: 'utf8',
    });
    expect(cli.status).to.equal(1);
    expect(cli.stderr).to.contain(':6:');
    expect(await rawEntry(slapd, 'ou=fine,o=jans')).to.deep.equal({});
  });

  it('runs as `npm run seed -- --ldif FILE` against the configured directory', async () => {
    const file = join(dataDir, 'extra.ldif');
    await writeFile(file, 'dn: ou=extra,o=jans\nobjectClass: organizationalUnit\nou: extra\n');
    const run = () =>
      spawnSync('npm', ['run', '-s', 'seed', '--', '--ldif', file], {
        cwd: ROOT,
        env: cliEnv(),
        encoding: 'utf8',
      });
    const first = run();
    expect(first.status, first.stderr).to.equal(0);
    expect(first.stdout).to.contain('added 1, unchanged 0, different 0');
    expect(run().stdout).to.contain('added 0, unchanged 1, different 0');
  });

  function cliEnv(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      LDAP_URL: slapd.url,
      LDAP_BIND_DN: slapd.bindDn,
      LDAP_BIND_PASSWORD: slapd.password,
    };
  }
});
