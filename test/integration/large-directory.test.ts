import { expect } from 'chai';
import { parseLdif } from '../../src/directory/ldif.js';
import { seed } from '../../src/directory/seed.js';
import { SCOPE, adminDirectory, call, startTestApp, startTestDirectory, type TestApp } from './harness.js';

const EXTRA = 1500;

/** Definitions enough that a search needs several pages of results. */
function generated(): string {
  return Array.from({ length: EXTRA }, (_, i) => {
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
      `jansStatus: ${i % 2 === 0 ? 'active' : 'inactive'}`,
      '',
    ].join('\n');
  }).join('\n');
}

describe('a directory larger than one page of search results', () => {
  let directory: Awaited<ReturnType<typeof startTestDirectory>>;
  let app: TestApp;

  before(async function () {
    this.timeout(60_000);
    directory = await startTestDirectory();
    const admin = adminDirectory(directory.slapd);
    await seed(admin, parseLdif(generated(), 'generated'));
    await admin.close();
    app = await startTestApp(directory.slapd);
  });
  after(async () => {
    await app?.stop();
    await directory?.stop();
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
