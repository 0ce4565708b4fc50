import { spawnSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { parseLdif } from '../../src/directory/ldif.js';
import { STANDARD_LDIF, seed } from '../../src/directory/seed.js';
import { findSlapd, startSlapd, type RunningSlapd } from '../../src/directory/slapd.js';
import {
  SCOPE,
  adminDirectory,
  call,
  startTestApp,
  tempDir,
  type TestApp,
  JANSSEN_REQUIRED,
  useTestApp,
} from './harness.js';

const EXTRA = 1500;

/** Definitions enough that a search needs several pages of results. */
function generated(count = EXTRA): string {
  return Array.from({ length: count }, (_, i) => {
    const n = String(i).padStart(4, '0');
    return [
      `dn: inum=GEN${n},ou=attributes,o=jans`,
      'objectClass: top',
      'objectClass: jansAttr',
      `inum: GEN${n}`,
      `jansAttrName: generated${n}`,
      `displayName: Generated ${n}`,
      `description: Bulk definition number ${n}`,
      'jansAttrTyp: string',
      'jansAttrEditTyp: admin',
      'jansAttrViewTyp: admin',
      `jansStatus: ${i % 2 === 0 ? 'active' : 'inactive'}`,
      '',
    ].join('\n');
  }).join('\n');
}

describe('a directory larger than one page of search results', () => {
  const { app } = useTestApp({
    timeout: 60_000,
    async prepare(directory) {
      const admin = adminDirectory(directory.slapd);
      await seed(admin, parseLdif(generated(), 'generated'));
      await admin.close();
    },
  });

  it('answers concurrent list requests that each need several result pages', async () => {
    const token = app.issuer.token([SCOPE.read]);
    const replies = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        call(
          app,
          'GET',
          `/attributes?pattern=generated&sortBy=displayName&sortOrder=descending&startIndex=${i}`,
          {
            token,
          },
        ),
      ),
    );
    for (const [i, reply] of replies.entries()) {
      expect(reply.status).to.equal(200);
      expect(reply.body.totalEntriesCount).to.equal(EXTRA);
      expect(reply.body.entries[0].name).to.equal(`generated${String(EXTRA - 1 - i).padStart(4, '0')}`);
    }
  });
});

describe('a directory bulk-loaded offline with slapadd', () => {
  let dataDir: string;
  let slapd: RunningSlapd;
  let app: TestApp;

  before(async function () {
    this.timeout(60_000);
    dataDir = await tempDir('slapadd');
    // The first start creates the configuration; slapadd then loads the stopped directory, as the
    // benchmark and an operator's bulk import do.
    await (await startSlapd({ dataDir, suffix: 'o=jans' })).stop();
    const ldif = join(dataDir, 'bulk.ldif');
    const standard = await Promise.all(STANDARD_LDIF.slice(0, 2).map((file) => readFile(file, 'utf8')));
    // With the 71 standard definitions, 1 600 in all: the service reads pages of 200, so its last page
    // ends exactly where the definitions do (which slapd refuses when the database is glued to others).
    await writeFile(ldif, `${standard.join('\n')}\n${generated(1529)}`);
    const slapadd = (findSlapd() as string).replace(/slapd$/, 'slapadd');
    const loaded = spawnSync(slapadd, ['-q', '-F', join(dataDir, 'slapd.d'), '-b', 'o=jans', '-l', ldif], {
      encoding: 'utf8',
    });
    expect(loaded.status, loaded.stderr).to.equal(0);
    slapd = await startSlapd({ dataDir, suffix: 'o=jans' });
    app = await startTestApp(slapd, { SCHEMA_CHECK: 'false' });
  });
  after(async () => {
    await app?.stop();
    await slapd?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves every definition, read in pages, and writes beside them', async () => {
    const listed = await call(app, 'GET', '/attributes?limit=1', { token: app.issuer.token([SCOPE.read]) });
    expect(listed.status).to.equal(200);
    expect(listed.body.totalEntriesCount).to.equal(1600);
    // The first write creates the containers of the name claims and the audit trail.
    const created = await call(app, 'POST', '/attributes', {
      token: app.adminToken,
      body: {
        ...JANSSEN_REQUIRED,
        name: 'afterBulkLoad',
        displayName: 'After bulk load',
        dataType: 'string',
      },
    });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const history = await call(app, 'GET', `/attributes/${created.body.inum}/history`, {
      token: app.issuer.token([SCOPE.read]),
    });
    expect(history.status).to.equal(200);
    expect(history.body.totalEntriesCount).to.equal(1);
  });
});
