import { expect } from 'chai';
import { Attribute, Change, Client } from 'ldapts';
import type { RunningSlapd } from '../../src/directory/slapd.js';
import { readSubschema } from '../../src/ldap/schema.js';
import {
  SCOPE,
  adminDirectory,
  call,
  startTestApp,
  uniqueName,
  type TestApp,
  useTestApp,
} from './harness.js';

/** A unique name that is also a valid LDAP attribute type name. */
const typeName = (prefix: string) => uniqueName(prefix).replace('_', '');

describe('schema preflight and extension', () => {
  const config = (slapd: RunningSlapd) => ({
    LDAP_CONFIG_BIND_DN: slapd.configDn,
    LDAP_CONFIG_BIND_PASSWORD: slapd.password,
  });
  const { app, directory, startApp } = useTestApp({
    env: (slapd) => ({ ...config(slapd), SCHEMA_EXTENSION: 'true' }),
  });
  let locked: TestApp;

  before(async () => {
    locked = await startApp({ ...config(directory.slapd), SCHEMA_EXTENSION: 'false' });
  });

  const definition = (name: string, extra: Record<string, unknown> = {}) => ({
    name,
    displayName: 'Badge number',
    description: 'Number on the building badge',
    dataType: 'numeric',
    status: 'active',
    claimName: name,
    editType: ['admin'],
    viewType: ['admin', 'user'],
    ...extra,
  });

  const typeOf = async (name: string) => {
    const admin = adminDirectory(directory.slapd);
    try {
      const schema = await readSubschema(admin);
      const custom = schema.objectClasses.find((c) => c.names.includes('jansCustomPerson'));
      return {
        type: schema.attributeTypes.find((t) => t.names.includes(name)),
        allowed: custom?.attributes.includes(name) ?? false,
      };
    } finally {
      await admin.close();
    }
  };

  /** Applies the LDIF of a 406 answer as ldapmodify would, bound as the cn=config admin. */
  const applyLdif = async (ldif: string) => {
    const client = new Client({ url: directory.slapd.url });
    await client.bind(directory.slapd.configDn, directory.slapd.password);
    const dn = /^dn: (.*)$/m.exec(ldif)?.[1] as string;
    const blocks = ldif.split('\n-\n').map((b) => b.replace(/^dn: .*\nchangetype: modify\n/, '').trim());
    const changes = blocks
      .filter((b) => b.length > 0)
      .map((b) => {
        const [op, value] = b.split('\n') as [string, string];
        const [operation, type] = op.split(': ') as ['add' | 'delete', string];
        return new Change({
          operation,
          modification: new Attribute({ type, values: [value.slice(type.length + 2)] }),
        });
      });
    try {
      await client.modify(dn, changes);
    } finally {
      await client.unbind();
    }
  };

  it('answers 406 naming the missing type, with the LDIF that would add it, and changes nothing', async () => {
    const name = typeName('badge');
    const reply = await call(app, 'POST', '/attributes', { token: app.adminToken, body: definition(name) });
    expect(reply.status).to.equal(406);
    expect(reply.body.description).to.contain(`no attribute type named '${name}'`);
    const ldif: string = reply.body.schemaChange;
    expect(ldif).to.match(
      /^dn: cn=\{\d+\}jans,cn=schema,cn=config\nchangetype: modify\nadd: olcAttributeTypes\n/,
    );
    expect(ldif).to.contain(`NAME '${name}'`);
    expect(ldif).to.contain('SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE');
    expect(ldif).to.match(/olcAttributeTypes: \( 2\.25\.221040513893262236960339934617374457713\.3\.\d+ /);
    expect(ldif).to.match(
      new RegExp(
        `add: olcObjectClasses\\nolcObjectClasses: \\{\\d+\\}\\( .*'jansCustomPerson'.*\\$ ${name} \\)`,
      ),
    );
    expect(await typeOf(name)).to.deep.equal({ type: undefined, allowed: false });
  });

  it('the LDIF of the 406, applied with ldapmodify semantics, lets the same POST succeed', async () => {
    const name = typeName('desk');
    const refused = await call(app, 'POST', '/attributes', {
      token: app.adminToken,
      body: definition(name, { dataType: 'string', oxMultiValuedAttribute: true }),
    });
    const ldif: string = refused.body.schemaChange;
    expect(ldif).to.not.contain('SINGLE-VALUE');
    await applyLdif(ldif);
    const created = await call(app, 'POST', '/attributes', {
      token: app.adminToken,
      body: definition(name, { dataType: 'string', oxMultiValuedAttribute: true }),
    });
    expect(created.status).to.equal(201);
  });

  it('with extendSchema=true adds the type, allows it on custom persons, then creates the definition', async () => {
    const name = typeName('badge');
    const reply = await call(app, 'POST', '/attributes?extendSchema=true', {
      token: app.adminToken,
      body: definition(name),
    });
    expect(reply.status).to.equal(201);
    expect(reply.body.name).to.equal(name);
    const { type, allowed } = await typeOf(name);
    expect(type?.oid).to.match(/^2\.25\.221040513893262236960339934617374457713\.3\.\d+$/);
    expect(type?.syntax).to.equal('1.3.6.1.4.1.1466.115.121.1.27');
    expect(allowed).to.equal(true);

    // The attribute can now hold values on a person entry.
    const admin = adminDirectory(directory.slapd);
    const person = `inum=${uniqueName('p')},ou=people,o=jans`;
    await admin.run((c) =>
      c.add(person, { objectClass: ['top', 'jansPerson', 'jansCustomPerson'], [name]: '4711' }),
    );
    const { searchEntries } = await admin.run((c) => c.search(person, { scope: 'base', attributes: [name] }));
    expect(searchEntries[0]?.[name]).to.equal('4711');
    await admin.run((c) => c.del(person));
    await admin.close();
  });

  it('gives concurrent extensions distinct OIDs', async () => {
    const names = [typeName('a'), typeName('b'), typeName('c')];
    const replies = await Promise.all(
      names.map((name) =>
        call(app, 'POST', '/attributes?extendSchema=true', { token: app.adminToken, body: definition(name) }),
      ),
    );
    expect(replies.map((r) => r.status)).to.deep.equal([201, 201, 201]);
    const oids = await Promise.all(names.map(async (n) => (await typeOf(n)).type?.oid));
    expect(new Set(oids).size).to.equal(3);
  });

  it('only allows an existing type when that is all that is missing', async () => {
    // initials is a standard type that the person classes here do not allow.
    const refused = await call(locked, 'POST', '/attributes', {
      token: locked.adminToken,
      body: definition('initials', { claimName: 'initials', dataType: 'string' }),
    });
    expect(refused.status).to.equal(406);
    expect(refused.body.schemaChange).to.not.contain('olcAttributeTypes');
    expect(refused.body.schemaChange).to.contain('$ initials )');
    const created = await call(app, 'POST', '/attributes?extendSchema=true', {
      token: app.adminToken,
      body: definition('initials', { claimName: 'initials', dataType: 'string' }),
    });
    expect(created.status).to.equal(201);
    expect((await typeOf('initials')).allowed).to.equal(true);
  });

  it('refuses a name that cannot be an LDAP attribute type, saying why', async () => {
    const name = uniqueName('under');
    const refused = await call(app, 'POST', '/attributes', { token: app.adminToken, body: definition(name) });
    expect(refused.status).to.equal(406);
    expect(refused.body.description).to.contain('only letters, digits and hyphens');
    expect(refused.body.schemaChange).to.equal(undefined);
    const extend = await call(app, 'POST', '/attributes?extendSchema=true', {
      token: app.adminToken,
      body: definition(name),
    });
    expect(extend.status).to.equal(400);
  });

  it('refuses extendSchema clearly when the switch is off, changing nothing', async () => {
    const name = typeName('badge');
    const reply = await call(locked, 'POST', '/attributes?extendSchema=true', {
      token: locked.adminToken,
      body: definition(name),
    });
    expect(reply.status).to.equal(409);
    expect(reply.body.description).to.contain('SCHEMA_EXTENSION=false');
    expect(await typeOf(name)).to.deep.equal({ type: undefined, allowed: false });
    const list = await call(locked, 'GET', `/attributes?pattern=${name}`, {
      token: locked.issuer.token([SCOPE.read]),
    });
    expect(list.body.totalEntriesCount).to.equal(0);
  });

  it('with the switch off, extendSchema=true still creates a definition the schema already allows', async () => {
    const name = typeName('locker');
    const refused = await call(locked, 'POST', '/attributes', {
      token: locked.adminToken,
      body: definition(name),
    });
    expect(refused.status).to.equal(406);
    await applyLdif(refused.body.schemaChange);
    const before = await typeOf(name);
    expect(before.allowed).to.equal(true);
    const created = await call(locked, 'POST', '/attributes?extendSchema=true', {
      token: locked.adminToken,
      body: definition(name),
    });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    expect(await typeOf(name), 'the schema is as it was').to.deep.equal(before);
  });

  it('refuses extendSchema when the cn=config account may not write, changing nothing', async () => {
    const wrong = await startTestApp(directory.slapd, {
      SCHEMA_EXTENSION: 'true',
      LDAP_CONFIG_BIND_DN: directory.slapd.configDn,
      LDAP_CONFIG_BIND_PASSWORD: 'not-the-password',
    });
    try {
      const name = typeName('badge');
      const reply = await call(wrong, 'POST', '/attributes?extendSchema=true', {
        token: wrong.adminToken,
        body: definition(name),
      });
      expect(reply.status).to.equal(409);
      expect(reply.body.description).to.contain('refused');
      expect(await typeOf(name)).to.deep.equal({ type: undefined, allowed: false });
    } finally {
      await wrong.stop();
    }
  });
});
