import { expect } from 'chai';
import { Attribute, Change, Client } from 'ldapts';
import pino from 'pino';
import type { AuditEvent } from '../../src/attributes/audit.js';
import type { RunningSlapd } from '../../src/directory/slapd.js';
import { auditFailures } from '../../src/http/audit.js';
import { LdapAuditStore } from '../../src/ldap/audit-store.js';
import {
  SCOPE,
  adminDirectory,
  asRoot,
  call,
  startTestApp,
  startTestDirectory,
  uniqueName,
  JANSSEN_REQUIRED,
  useTestApp,
} from './harness.js';
import { VALUE_SCOPE, newSession, newUser } from './values-fixtures.js';

const SCOPES = {
  read: 'https://jans.io/oauth/config/scopes.readonly',
  write: 'https://jans.io/oauth/config/scopes.write',
};

/** The cn of every entry under ou=audit. */
async function auditEntries(slapd: RunningSlapd): Promise<string[]> {
  const { searchEntries } = await asRoot(slapd, (c) =>
    c.search('ou=audit,o=jans', { scope: 'one', attributes: ['cn'] }),
  );
  return searchEntries.map((e) => String(e.cn));
}

/** Every audit event stored under ou=audit. */
async function storedEvents(slapd: RunningSlapd): Promise<AuditEvent[]> {
  const { searchEntries } = await asRoot(slapd, (c) =>
    c.search('ou=audit,o=jans', { scope: 'one', attributes: ['registryAuditRecord'] }),
  );
  return searchEntries.flatMap((e) =>
    [e.registryAuditRecord ?? []].flat().map((r) => JSON.parse(String(r)) as AuditEvent),
  );
}

function event(inum: string, n: number): AuditEvent {
  return {
    id: `${inum}-${n}`,
    time: new Date().toISOString(),
    actor: { subject: 'store-test' },
    operation: 'patch-attributes-by-inum',
    inum,
    status: 200,
  };
}

describe('the audit trail', () => {
  const { app, directory } = useTestApp({ env: { SCHEMA_CHECK: 'false' } });

  const as = (sub: string, scopes = [SCOPE.read, SCOPE.write, SCOPE.delete]) =>
    app.issuer.token(scopes, { subject: sub });
  const history = (inum: string, query = '', token = as('auditor')) =>
    call(app, 'GET', `/attributes/${inum}/history${query}`, { token });

  it('records who changed what, allowed or refused, newest first, and keeps it after the delete', async () => {
    const name = uniqueName();
    const created = await call(app, 'POST', '/attributes', {
      token: as('alice'),
      body: { ...JANSSEN_REQUIRED, name, displayName: 'Audited', dataType: 'string' },
    });
    const inum = created.body.inum;
    const etag = created.headers.get('etag') ?? '';
    await call(app, 'PATCH', `/attributes/${inum}`, {
      token: as('bob'),
      body: [{ op: 'replace', path: '/displayName', value: 'Audited twice' }],
    });
    const refused = await call(app, 'PUT', '/attributes', {
      token: as('carol'),
      headers: { 'if-match': etag },
      body: { ...created.body, displayName: 'Stale' },
    });
    expect(refused.status).to.equal(412);
    const forbidden = await call(app, 'DELETE', `/attributes/${inum}`, { token: as('dave', [SCOPE.read]) });
    expect(forbidden.status).to.equal(403);
    expect((await call(app, 'DELETE', `/attributes/${inum}`, { token: as('erin') })).status).to.equal(204);

    const { body } = await history(inum);
    expect(body.totalEntriesCount).to.equal(5);
    const summary = body.entries.map(
      (e: { actor: { subject: string }; operation: string; status: number }) => [
        e.actor.subject,
        e.operation,
        e.status,
      ],
    );
    expect(summary).to.deep.equal([
      ['erin', 'delete-attributes-by-inum', 204],
      ['dave', 'delete-attributes-by-inum', 403],
      ['carol', 'put-attributes', 412],
      ['bob', 'patch-attributes-by-inum', 200],
      ['alice', 'post-attributes', 201],
    ]);
    const [deleted, , , patched, posted] = body.entries;
    expect(patched.diff).to.deep.equal([{ op: 'replace', path: '/displayName', value: 'Audited twice' }]);
    expect(posted.diff).to.deep.include({ op: 'add', path: '/name', value: name });
    expect(posted.actor.clientId).to.equal('test-client');
    expect(deleted.diff).to.deep.include({ op: 'remove', path: '/name' });
    expect(deleted.name).to.equal(name);
  });

  it('records each of concurrent patches of one definition with its own change', async () => {
    const created = await call(app, 'POST', '/attributes', {
      token: as('alice'),
      body: { ...JANSSEN_REQUIRED, name: uniqueName(), displayName: 'Patched together', dataType: 'string' },
    });
    const inum = created.body.inum;
    const fields = ['origin', 'tooltip', 'saml1Uri', 'saml2Uri', 'sourceAttribute', 'nameIdType'];
    const replies = await Promise.all(
      fields.map((field) =>
        call(app, 'PATCH', `/attributes/${inum}`, {
          token: as(field),
          body: [{ op: 'add', path: `/${field}`, value: `${field} value` }],
        }),
      ),
    );
    expect(replies.map((r) => r.status)).to.deep.equal(fields.map(() => 200));
    // Every answer holds its own change and carries the tag of the state it shows.
    const current = await call(app, 'GET', `/attributes/${inum}`, { token: as('auditor') });
    for (const [i, reply] of replies.entries()) {
      expect(reply.body[fields[i] as string]).to.equal(`${fields[i]} value`);
      if (fields.every((f) => reply.body[f] !== undefined)) {
        expect(reply.headers.get('etag')).to.equal(current.headers.get('etag'));
      }
    }
    const { body } = await history(inum);
    const patches = body.entries.filter(
      (e: { operation: string }) => e.operation === 'patch-attributes-by-inum',
    );
    expect(
      patches.map((e: { actor: { subject: string }; diff: unknown }) => [e.actor.subject, e.diff]),
    ).to.have.deep.members(
      fields.map((field) => [field, [{ op: 'add', path: `/${field}`, value: `${field} value` }]]),
    );
  });

  it('records refused creations under the name that was asked for', async () => {
    const reply = await call(app, 'POST', '/attributes', {
      token: as('frank'),
      body: { ...JANSSEN_REQUIRED, name: 'MAIL', displayName: 'Clash', dataType: 'string' },
    });
    expect(reply.status).to.equal(409);
    // The refused request named no inum; its record is in the log and the directory, not in a history.
    const mail = await history('CAE3');
    expect(mail.body.totalEntriesCount).to.equal(0);
  });

  it('records writes refused before they reach the API (malformed, too large, too deep), with their caller', async () => {
    const lines: { msg: string; audit?: AuditEvent }[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const logged = await startTestApp(directory.slapd, { SCHEMA_CHECK: 'false' }, log);
    try {
      const created = await call(logged, 'POST', '/attributes', {
        token: logged.adminToken,
        body: { ...JANSSEN_REQUIRED, name: uniqueName(), displayName: 'Refused early', dataType: 'string' },
      });
      const inum = created.body.inum as string;
      const token = logged.issuer.token([SCOPE.read, SCOPE.write, SCOPE.delete], { subject: 'mallory' });
      const malformed = await call(logged, 'PUT', '/attributes', { token, rawBody: '{"inum": "x",' });
      expect(malformed.status).to.equal(400);
      const huge = await call(logged, 'POST', '/attributes', {
        token,
        body: {
          name: uniqueName(),
          displayName: 'Huge',
          dataType: 'string',
          description: 'x'.repeat(300_000),
        },
      });
      expect(huge.status).to.equal(413);
      const nested = `${'['.repeat(40)}${']'.repeat(40)}`;
      const deep = await call(logged, 'PATCH', `/attributes/${inum}`, {
        token,
        rawBody: `[{"op":"add","path":"/description","value":${nested}}]`,
      });
      expect(deep.status).to.equal(400);
      // Without a valid token there is nobody to record (and the body is never read: 401 comes first).
      const anonymous = await call(logged, 'PUT', '/attributes', { token: 'not-a-token', rawBody: '{' });
      expect(anonymous.status).to.equal(401);

      const events = lines.filter((l) => l.msg === 'audit').map((l) => l.audit as AuditEvent);
      const refused = events.filter((e) => e.actor.subject === 'mallory');
      expect(refused.map((e) => [e.operation, e.inum, e.status, e.actor.clientId])).to.deep.equal([
        ['put-attributes', undefined, 400, 'test-client'],
        ['post-attributes', undefined, 413, 'test-client'],
        ['patch-attributes-by-inum', inum, 400, 'test-client'],
      ]);
      expect(events).to.have.length(refused.length + 1);
      const stored = await storedEvents(directory.slapd);
      for (const e of refused) expect(stored.find((s) => s.id === e.id)).to.deep.equal(e);
      const { body } = await history(inum);
      expect(body.entries[0]).to.deep.include({ operation: 'patch-attributes-by-inum', status: 400 });
      expect(body.entries[0].actor.subject).to.equal('mallory');
      const text = lines.map((l) => JSON.stringify(l)).join('\n');
      expect(text).to.not.contain(token.split('.')[2]).and.not.contain(logged.adminToken.split('.')[2]);
    } finally {
      await logged.stop();
    }
  });

  it('pages the history and needs a read scope', async () => {
    const created = await call(app, 'POST', '/attributes', {
      token: as('grace'),
      body: { ...JANSSEN_REQUIRED, name: uniqueName(), displayName: 'Paged', dataType: 'string' },
    });
    const inum = created.body.inum;
    for (const value of ['one', 'two', 'three']) {
      await call(app, 'PATCH', `/attributes/${inum}`, {
        token: as('grace'),
        body: [{ op: 'replace', path: '/displayName', value }],
      });
    }
    const page = (await history(inum, '?limit=2&startIndex=1')).body;
    expect(page).to.include({ start: 1, totalEntriesCount: 4, entriesCount: 2 });
    expect(page.entries.map((e: { diff: { value: string }[] }) => e.diff[0]?.value)).to.deep.equal([
      'two',
      'one',
    ]);
    expect((await history(inum, '', as('heidi', [SCOPE.delete]))).status).to.equal(403);
    expect((await history(inum, '?limit=500')).status).to.equal(400);
  });

  it("records value writes by holder and attribute, refused ones and the holder's own too, never a value", async () => {
    const user = await newUser(directory.slapd);
    const admin = as('val-admin', [VALUE_SCOPE.userRead, VALUE_SCOPE.userWrite, VALUE_SCOPE.userDelete]);
    const base = `/users/${user}/attributes`;
    const secret = uniqueName('SecretValue');
    const writes = [
      await call(app, 'POST', base, { token: admin, body: { name: 'nickname', value: secret } }),
      await call(app, 'PUT', `${base}/middleName`, { token: admin, body: { value: `${secret}-2` } }),
      await call(app, 'POST', `${base}/_many`, {
        token: admin,
        body: {
          op: 'set',
          items: [
            { name: 'nickname', value: `${secret}-3` },
            { name: 'updatedAt', value: '2024-06-30T23:59:60Z' },
          ],
        },
      }),
      // Batches that only read are not writes.
      await call(app, 'POST', `${base}/_many`, {
        token: admin,
        body: { op: 'get', items: [{ name: 'nickname' }] },
      }),
      await call(app, 'PUT', `${base}/jansStatus`, { token: as(user, []), body: { value: 'active' } }),
      await call(app, 'DELETE', `${base}/middleName`, { token: admin }),
    ];
    expect(writes.map((w) => w.status)).to.deep.equal([201, 201, 200, 200, 403, 204]);

    const { body } = await call(app, 'GET', `/users/${user}/history`, {
      token: as('auditor', [VALUE_SCOPE.userRead]),
    });
    expect(body.totalEntriesCount).to.equal(5);
    const summary = body.entries.map((e: AuditEvent) => [
      e.actor.subject,
      e.operation,
      e.status,
      e.attributes,
    ]);
    expect(summary).to.deep.equal([
      ['val-admin', 'delete-user-attribute', 204, [{ name: 'middleName', status: 204 }]],
      [user, 'put-user-attribute', 403, [{ name: 'jansStatus', status: 403 }]],
      [
        'val-admin',
        'post-user-attributes-many',
        200,
        [
          { name: 'nickname', status: 200 },
          { name: 'updatedAt', status: 400 },
        ],
      ],
      ['val-admin', 'put-user-attribute', 201, [{ name: 'middleName', status: 201 }]],
      ['val-admin', 'post-user-attribute', 201, [{ name: 'nickname', status: 201 }]],
    ]);
    for (const e of body.entries as AuditEvent[]) {
      expect(e.holder).to.deep.equal({ kind: 'user', id: user });
      expect(e).to.not.have.property('diff');
    }
    const stored = (await storedEvents(directory.slapd)).filter((e) => e.holder?.id === user);
    expect(stored).to.have.length(5);
    expect(JSON.stringify(stored)).to.not.contain(secret);
    // A holder's history is for administrators of its values, not for the holder or definition readers.
    for (const token of [as(user, []), as('reader', [SCOPE.read])]) {
      expect((await call(app, 'GET', `/users/${user}/history`, { token })).status).to.equal(403);
    }
    // Nor does it show under a definition's history.
    const nickname = await call(app, 'GET', '/attributes?pattern=nickname', { token: as('auditor') });
    const inum = nickname.body.entries.find((d: { name: string }) => d.name === 'nickname').inum;
    const definitionHistory = await history(inum);
    expect(definitionHistory.body.entries ?? []).to.deep.equal([]);
  });

  it('records session value writes under the session', async () => {
    const user = await newUser(directory.slapd);
    const session = await newSession(directory.slapd, user);
    const admin = as('session-admin', [VALUE_SCOPE.sessionRead, VALUE_SCOPE.sessionWrite]);
    const put = await call(app, 'PUT', `/sessions/${session}/attributes/nickname`, {
      token: admin,
      body: { value: 'Al' },
    });
    expect(put.status).to.equal(201);
    const { body } = await call(app, 'GET', `/sessions/${session}/history`, { token: admin });
    expect(body.entries.map((e: AuditEvent) => [e.holder, e.operation, e.attributes])).to.deep.equal([
      [{ kind: 'session', id: session }, 'put-session-attribute', [{ name: 'nickname', status: 201 }]],
    ]);
    const userHistory = await call(app, 'GET', `/users/${user}/history`, {
      token: as('auditor', [VALUE_SCOPE.userRead]),
    });
    expect(userHistory.body.totalEntriesCount).to.equal(0);
  });

  it('records scope changes with their patch, and refused ones', async () => {
    const scopeToken = (sub: string) => as(sub, [SCOPE.read, SCOPES.read, SCOPES.write]);
    const created = await call(app, 'POST', '/attributes', {
      token: as('alice'),
      body: {
        ...JANSSEN_REQUIRED,
        name: uniqueName(),
        displayName: 'Released',
        dataType: 'string',
        status: 'active',
      },
    });
    const claims = (await call(app, 'GET', '/scopes/43F1', { token: scopeToken('kim') })).body.claims;
    const added = await call(app, 'PATCH', '/scopes/43F1', {
      token: scopeToken('kim'),
      body: [{ op: 'add', path: '/claims/-', value: created.body.dn }],
    });
    expect(added.status).to.equal(200);
    const refused = await call(app, 'PATCH', '/scopes/43F1', {
      token: scopeToken('lee'),
      body: [{ op: 'add', path: '/claims/-', value: 'inum=NOPE,ou=attributes,o=jans' }],
    });
    expect(refused.status).to.equal(400);

    const { body } = await call(app, 'GET', '/scopes/43F1/history', { token: as('auditor', [SCOPES.read]) });
    const [last, first] = body.entries as AuditEvent[];
    expect(last).to.deep.include({ operation: 'patch-oauth-scopes-by-id', scope: '43F1', status: 400 });
    expect(last?.actor.subject).to.equal('lee');
    expect(last).to.not.have.property('diff');
    expect(first).to.deep.include({ operation: 'patch-oauth-scopes-by-id', scope: '43F1', status: 200 });
    expect(first?.diff).to.deep.equal([
      { op: 'add', path: `/claims/${claims.length}`, value: created.body.dn },
    ]);
    expect(
      (await call(app, 'GET', '/scopes/43F1/history', { token: as('reader', [SCOPE.read]) })).status,
    ).to.equal(403);

    // A forced delete takes the claim from the scope: the scope's history says so too.
    const forced = await call(app, 'DELETE', `/attributes/${created.body.inum}?force=true`, {
      token: as('max', [SCOPE.delete, SCOPES.write]),
    });
    expect(forced.status).to.equal(204);
    const after = await call(app, 'GET', '/scopes/43F1/history', { token: as('auditor', [SCOPES.read]) });
    const [removal] = after.body.entries as AuditEvent[];
    expect(removal).to.deep.include({ operation: 'delete-attributes-by-inum', scope: '43F1', status: 204 });
    expect(removal?.actor.subject).to.equal('max');
    expect(removal?.diff).to.deep.equal([{ op: 'remove', path: `/claims/${claims.length}` }]);
    const definitionEvents = (await history(created.body.inum)).body.entries as AuditEvent[];
    expect(definitionEvents[0]).to.deep.include({
      operation: 'delete-attributes-by-inum',
      inum: created.body.inum,
    });
  });

  it('is kept in the directory, so another instance serves the same history', async () => {
    const created = await call(app, 'POST', '/attributes', {
      token: as('ivan'),
      body: { ...JANSSEN_REQUIRED, name: uniqueName(), displayName: 'Shared', dataType: 'string' },
    });
    const other = await startTestApp(directory.slapd);
    try {
      const reply = await call(other, 'GET', `/attributes/${created.body.inum}/history`, {
        token: other.adminToken,
      });
      expect(reply.body.entries[0].actor.subject).to.equal('ivan');
    } finally {
      await other.stop();
    }
  });

  it('never fails a change because its audit event cannot be stored; it counts the failure', async () => {
    // A directory where audit entries cannot be added: ou=audit is an alias, and nothing can live under one.
    const broken = await startTestDirectory();
    const client = new Client({ url: broken.slapd.url });
    await client.bind(broken.slapd.bindDn, broken.slapd.password);
    await client.add('ou=audit,o=jans', {
      objectClass: ['alias', 'extensibleObject'],
      ou: 'audit',
      aliasedObjectName: 'ou=people,o=jans',
    });
    await client.unbind();
    const brokenApp = await startTestApp(broken.slapd, { SCHEMA_CHECK: 'false' });
    try {
      const before = auditFailures.count;
      const reply = await call(brokenApp, 'POST', '/attributes', {
        token: brokenApp.adminToken,
        body: { ...JANSSEN_REQUIRED, name: uniqueName(), displayName: 'Unaudited', dataType: 'string' },
      });
      expect(reply.status).to.equal(201);
      expect(auditFailures.count).to.equal(before + 1);
    } finally {
      await brokenApp.stop();
      await broken.stop();
    }
  });

  it('writes the events that arrive while one is being written together, in one entry, losing none', async () => {
    const store = new LdapAuditStore(adminDirectory(directory.slapd));
    const before = (await auditEntries(directory.slapd)).length;
    const inums = ['GRP1', 'GRP2'];
    // The first event is written at once; the other 19 arrive while it is under way and share one entry.
    await Promise.all(Array.from({ length: 20 }, (_, n) => store.append(event(inums[n % 2] as string, n))));
    expect((await auditEntries(directory.slapd)).length - before).to.equal(2);
    for (const [k, inum] of inums.entries()) {
      const { total, events } = await store.history(inum, 0, 50);
      expect(total).to.equal(10);
      const expected = Array.from({ length: 10 }, (_, n) => `${inum}-${18 + k - 2 * n}`);
      expect(events.map((e) => e.id)).to.deep.equal(expected);
    }
  });

  it('groups events about one inum written in different cases', async () => {
    const store = new LdapAuditStore(adminDirectory(directory.slapd));
    // The first is written alone, the other two together: one target value for both.
    await Promise.all(['Case1', 'CASE1', 'case1'].map((inum, n) => store.append(event(inum, n))));
    const { total, events } = await store.history('case1', 0, 10);
    expect(total).to.equal(3);
    expect(events.map((e) => e.id)).to.deep.equal(['case1-2', 'CASE1-1', 'Case1-0']);
  });

  it('records every one of many concurrent writes through the API', async () => {
    const inums: string[] = [];
    for (let i = 0; i < 4; i++) {
      const created = await call(app, 'POST', '/attributes', {
        token: as('judy'),
        body: { ...JANSSEN_REQUIRED, name: uniqueName(), displayName: 'Busy', dataType: 'string' },
      });
      inums.push(created.body.inum);
    }
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, n) =>
        call(app, 'PATCH', `/attributes/${inums[n % 4]}`, {
          token: as(`writer${n}`),
          body: [{ op: 'add', path: '/description', value: `change ${n}` }],
        }),
      ),
    );
    expect(replies.every((r) => r.status === 200)).to.equal(true);
    for (const [k, inum] of inums.entries()) {
      const { body } = await history(inum, '?limit=50');
      expect(body.totalEntriesCount).to.equal(11);
      const writers = body.entries
        .filter((e: { operation: string }) => e.operation === 'patch-attributes-by-inum')
        .map((e: { actor: { subject: string } }) => e.actor.subject)
        .sort();
      const expected = Array.from({ length: 10 }, (_, i) => `writer${4 * i + k}`).sort();
      expect(writers).to.deep.equal(expected);
    }
  });

  it('writes one entry per event into a directory whose schema holds one record per entry', async () => {
    // The schema of an earlier version: registryAuditRecord single-valued (as an external directory set
    // up by that version still has it; the embedded one is brought up to date when it starts).
    const old = await startTestDirectory();
    await asRoot(
      old.slapd,
      async (config) => {
        const { searchEntries } = await config.search('cn=schema,cn=config', {
          scope: 'one',
          filter: '(cn=*jans)',
          attributes: ['olcAttributeTypes'],
        });
        const entry = searchEntries[0] as { dn: string; olcAttributeTypes: string[] };
        const record = entry.olcAttributeTypes.find((t) =>
          t.includes("NAME 'registryAuditRecord'"),
        ) as string;
        const single = record.replace(/^\{\d+\}/, '').replace(' X-ORIGIN', ' SINGLE-VALUE X-ORIGIN');
        expect(single).to.contain('SINGLE-VALUE');
        const types = (operation: 'add' | 'delete', value: string) =>
          new Change({
            operation,
            modification: new Attribute({ type: 'olcAttributeTypes', values: [value] }),
          });
        await config.modify(entry.dn, [types('delete', record), types('add', single)]);
      },
      'config',
    );
    try {
      let warned = 0;
      const store = new LdapAuditStore(adminDirectory(old.slapd), () => warned++);
      await Promise.all(Array.from({ length: 5 }, (_, n) => store.append(event('OLD1', n))));
      expect(warned).to.equal(1);
      expect(await auditEntries(old.slapd)).to.have.length(5);
      const { total, events } = await store.history('OLD1', 0, 10);
      expect(total).to.equal(5);
      expect(events.map((e) => e.id)).to.have.members(['OLD1-0', 'OLD1-1', 'OLD1-2', 'OLD1-3', 'OLD1-4']);
    } finally {
      await old.stop();
    }
  });
});
