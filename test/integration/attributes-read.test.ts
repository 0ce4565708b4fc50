import { expect } from 'chai';
import { SCOPE, call, useTestApp } from './harness.js';

describe('reading attribute definitions (real slapd, real HTTP)', () => {
  const { app } = useTestApp();
  let token: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let all: any[];

  before(async () => {
    token = app.issuer.token([SCOPE.read]);
    all = (await call(app, 'GET', '/attributes?limit=200', { token })).body.entries;
  });

  const list = (query: string) => call(app, 'GET', `/attributes${query}`, { token });

  describe('GET /attributes', () => {
    it('serves the 71 standard definitions, 50 per page by default', async () => {
      const { status, body } = await list('');
      expect(status).to.equal(200);
      expect(body).to.include({ start: 0, totalEntriesCount: 71, entriesCount: 50 });
      expect(body.entries).to.have.length(50);
      expect(all).to.have.length(71);
    });

    it('finds the 14 eduPerson definitions with pattern=edu, in any case', async () => {
      for (const pattern of ['edu', 'EDU', 'eDu']) {
        const { body } = await list(`?pattern=${pattern}`);
        expect(body.totalEntriesCount).to.equal(14);
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        expect(body.entries.every((e: any) => e.name.startsWith('eduPerson'))).to.equal(true);
      }
    });

    it('matches a pattern on displayName, name and inum, and ORs comma-separated tokens', async () => {
      expect((await list('?pattern=city')).body.entries.map((e: { inum: string }) => e.inum)).to.deep.equal([
        '6EEB',
      ]);
      expect((await list('?pattern=street')).body.entries.map((e: { inum: string }) => e.inum)).to.deep.equal(
        ['6609'],
      );
      expect((await list('?pattern=departmentNumber')).body.totalEntriesCount).to.equal(1);
      expect((await list('?pattern=08e2')).body.entries[0].inum).to.equal('08E2');
      expect((await list('?pattern=city,street')).body.totalEntriesCount).to.equal(2);
    });

    it('filters by status', async () => {
      expect((await list('?status=active')).body.totalEntriesCount).to.equal(37);
      expect((await list('?status=INACTIVE')).body.totalEntriesCount).to.equal(34);
      expect((await list('?status=all')).body.totalEntriesCount).to.equal(71);
    });

    it('answers limit=0 with the count and no entries', async () => {
      const { body } = await list('?limit=0');
      expect(body).to.deep.equal({ start: 0, totalEntriesCount: 71, entriesCount: 0 });
    });

    it('pages with a zero-based startIndex', async () => {
      const { body } = await list('?limit=3&startIndex=2');
      expect(body.start).to.equal(2);
      expect(body.entries.map((e: { inum: string }) => e.inum)).to.deep.equal(
        all.slice(2, 5).map((e) => e.inum),
      );
    });

    it('sorts the whole result before paging, not only the page', async () => {
      const expected = [...all]
        .sort((a, b) => (a.displayName.toLowerCase() < b.displayName.toLowerCase() ? 1 : -1))
        .map((e) => e.displayName.toLowerCase());
      const pages = [];
      for (let start = 0; start < 71; start += 20) {
        const { body } = await list(`?sortBy=displayName&sortOrder=descending&limit=20&startIndex=${start}`);
        pages.push(...body.entries.map((e: { displayName: string }) => e.displayName.toLowerCase()));
      }
      expect(pages).to.deep.equal(expected);
    });

    it('sorts by inum ascending by default', async () => {
      const inums = all.map((e) => e.inum.toLowerCase());
      expect(inums).to.deep.equal([...inums].sort());
      expect(inums.slice(0, 3)).to.deep.equal(['002a', '0247', '08e2']);
    });

    it('filters with fieldValuePair on stored fields and on derived flags', async () => {
      const count = (q: string) =>
        list(`?limit=200&fieldValuePair=${encodeURIComponent(q)}`).then((r) => r.body.totalEntriesCount);
      expect(await count('adminCanEdit=true')).to.equal(all.filter((e) => e.adminCanEdit).length);
      expect(await count('userCanEdit=true')).to.equal(all.filter((e) => e.userCanEdit).length);
      expect(await count('userCanEdit=false')).to.equal(all.filter((e) => !e.userCanEdit).length);
      expect(await count('whitePagesCanView=true')).to.equal(1);
      expect(await count('oxMultiValuedAttribute=true')).to.equal(4);
      expect(await count('oxMultiValuedAttribute=false')).to.equal(67);
      expect(await count('dataType=CERTIFICATE')).to.equal(1);
      expect(await count('dataType=string,status=active')).to.equal(
        all.filter((e) => e.dataType === 'string' && e.status === 'active').length,
      );
      expect(await count('name=MAIL')).to.equal(1);
    });

    it('combines pattern, status and fieldValuePair', async () => {
      const { body } = await list('?pattern=edu&status=inactive&fieldValuePair=userCanView%3Dfalse');
      expect(body.totalEntriesCount).to.equal(14);
    });

    const badRequests: [string, string][] = [
      ['?limit=201', 'limit'],
      ['?limit=-1', 'limit'],
      ['?limit=ten', 'limit'],
      ['?startIndex=-5', 'startIndex'],
      ['?sortBy=nosuchfield', 'sortBy'],
      ['?sortOrder=sideways', 'sortOrder'],
      ['?status=expiredish', 'status'],
      ['?fieldValuePair=nosuch%3Dx', 'nosuch'],
      ['?fieldValuePair=adminCanEdit%3Dmaybe', 'adminCanEdit'],
      ['?fieldValuePair=dataType%3Dphoto', 'dataType'],
      ['?fieldValuePair=name', 'name'],
      ['?limit=1&limit=2', 'limit'],
      ['?fieldValuePair=toString%3Dtrue', 'toString'],
      ['?fieldValuePair=__proto__%3Dfalse', '__proto__'],
      ['?sortBy=constructor', 'sortBy'],
      ['?limit=ten&foo=bar', 'limit'],
      ['?foo=bar&startIndex=-1', 'startIndex'],
    ];
    for (const [query, named] of badRequests) {
      it(`answers ${query} with 400 naming ${named}`, async () => {
        const { status, body } = await list(query);
        expect(status).to.equal(400);
        expect(`${body.message} ${body.description ?? ''}`).to.contain(named);
      });
    }

    it('ignores query parameters the operation does not declare, as Janssen does', async () => {
      const plain = await list('?limit=2&pattern=edu');
      const { status, body } = await list('?limit=2&foo=bar&pattern=edu&inum=08E2&json=op&json=path&LIMIT=9');
      expect(status).to.equal(200);
      expect(body).to.deep.equal(plain.body);
      expect(body.entriesCount).to.equal(2);
    });

    for (const hostile of ['*', ')(', '*)(inum=*', '\\', '\\2a', '\u0000', ',ou=people', '(objectClass=*)']) {
      it(`treats ${JSON.stringify(hostile)} in pattern and fieldValuePair as plain text`, async () => {
        const byPattern = await list(`?pattern=${encodeURIComponent(hostile)}`);
        expect(byPattern.status).to.equal(200);
        expect(byPattern.body.totalEntriesCount).to.equal(0);
        const byField = await list(`?fieldValuePair=${encodeURIComponent(`inum=${hostile}`)}`);
        if (hostile.includes(',')) {
          // The comma separates pairs, so the rest is a malformed pair, not a filter.
          expect(byField.status).to.equal(400);
        } else {
          expect(byField.status).to.equal(200);
          expect(byField.body.totalEntriesCount).to.equal(0);
        }
      });
    }
  });

  describe('GET /attributes/{inum}', () => {
    it('returns a definition in Janssen wire format', async () => {
      const { status, body } = await call(app, 'GET', '/attributes/08E2', { token });
      expect(status).to.equal(200);
      expect(body).to.include({
        dn: 'inum=08E2,ou=attributes,o=jans',
        baseDn: 'inum=08E2,ou=attributes,o=jans',
        inum: '08E2',
        name: 'departmentNumber',
        dataType: 'string',
        status: 'inactive',
        claimName: 'department_number',
        origin: 'jansCustomPerson',
        selected: false,
        custom: false,
        oxMultiValuedAttribute: false,
        adminCanEdit: true,
        adminCanView: true,
        adminCanAccess: true,
        userCanView: true,
        userCanEdit: false,
        userCanAccess: true,
        whitePagesCanView: false,
      });
      expect(body.editType).to.deep.equal(['admin']);
      expect(body.viewType).to.have.members(['user', 'admin']);
    });

    it('serves multi-valued flags and the validation object', async () => {
      expect((await call(app, 'GET', '/attributes/4CF1', { token })).body.oxMultiValuedAttribute).to.equal(
        true,
      );
      expect((await call(app, 'GET', '/attributes/CACA', { token })).body.attributeValidation).to.deep.equal({
        maxLength: 2048,
      });
    });

    it('answers an unknown inum with 404 ApiError', async () => {
      for (const inum of ['53553532727272772', '1402.66633-8675-473e-a749']) {
        const { status, body } = await call(app, 'GET', `/attributes/${inum}`, { token });
        expect(status).to.equal(404);
        expect(body).to.deep.equal({ code: '404', message: "The requested jans attribute doesn't exist" });
      }
    });

    for (const hostile of ['*', 'x)(inum=*', '08E2,ou=people', 'a\\b', '08E2+cn=x']) {
      it(`refuses the inum ${JSON.stringify(hostile)} with 400`, async () => {
        const { status, body } = await call(app, 'GET', `/attributes/${encodeURIComponent(hostile)}`, {
          token,
        });
        expect(status).to.equal(400);
        expect(body.message).to.contain('inum');
      });
    }

    it('refuses an inum that is not valid percent-encoding with 400', async () => {
      const { status, body } = await call(app, 'GET', '/attributes/%E0%A4%A', { token });
      expect(status).to.equal(400);
      expect(body).to.deep.include({ message: 'Invalid path parameter inum' });
    });
  });

  describe('bearer tokens', () => {
    it('needs a token: 401 with a Bearer challenge', async () => {
      const reply = await call(app, 'GET', '/attributes');
      expect(reply.status).to.equal(401);
      expect(reply.headers.get('www-authenticate')).to.equal('Bearer');
    });

    it('refuses other schemes and bad tokens with 401 invalid_token', async () => {
      const basic = await call(app, 'GET', '/attributes', { headers: { authorization: 'Basic YTpi' } });
      expect(basic.status).to.equal(401);
      const forged = await call(app, 'GET', '/attributes', { token: `${token.slice(0, -4)}AAAA` });
      expect(forged.status).to.equal(401);
      expect(forged.headers.get('www-authenticate')).to.match(/^Bearer error="invalid_token"/);
      const expired = app.issuer.token([SCOPE.read], { expiresIn: -60 });
      const late = await call(app, 'GET', '/attributes', { token: expired });
      expect(late.status).to.equal(401);
      expect(late.body.description).to.contain('expired');
    });

    it('accepts any one of the read scopes, from scope or scp', async () => {
      for (const scope of [SCOPE.read, SCOPE.write, SCOPE.admin, SCOPE.readAll, SCOPE.writeAll]) {
        expect(
          (await call(app, 'GET', '/attributes?limit=1', { token: app.issuer.token([scope]) })).status,
        ).to.equal(200);
      }
      const scp = app.issuer.token({ scp: [SCOPE.read] });
      expect((await call(app, 'GET', '/attributes/08E2', { token: scp })).status).to.equal(200);
    });

    it('answers a valid token without a fitting scope with 403 insufficient_scope', async () => {
      const reply = await call(app, 'GET', '/attributes', { token: app.issuer.token([SCOPE.delete]) });
      expect(reply.status).to.equal(403);
      const challenge = reply.headers.get('www-authenticate') ?? '';
      expect(challenge).to.contain('error="insufficient_scope"');
      expect(challenge).to.contain(SCOPE.read);
    });
  });
});
