import { Client } from 'ldapts';
import type { RunningSlapd } from '../../src/directory/slapd.js';
import { call, uniqueName, type TestApp } from './harness.js';

export const VALUE_SCOPE = {
  userRead: 'https://jans.io/oauth/config/user-attributes.readonly',
  userWrite: 'https://jans.io/oauth/config/user-attributes.write',
  userDelete: 'https://jans.io/oauth/config/user-attributes.delete',
  sessionRead: 'https://jans.io/oauth/config/session-attributes.readonly',
  sessionWrite: 'https://jans.io/oauth/config/session-attributes.write',
  sessionDelete: 'https://jans.io/oauth/config/session-attributes.delete',
};

/** Adds an LDAP entry as the identity server would (users and sessions are not made by this service). */
export async function addEntry(
  slapd: RunningSlapd,
  dn: string,
  attributes: Record<string, string[]>,
): Promise<void> {
  const client = new Client({ url: slapd.url });
  try {
    await client.bind(slapd.bindDn, slapd.password);
    await client.add(dn, attributes);
  } finally {
    await client.unbind();
  }
}

/** A new person entry with a unique inum. */
export async function newUser(slapd: RunningSlapd, extra: Record<string, string[]> = {}): Promise<string> {
  const inum = uniqueName('u').replace('_', '-');
  await addEntry(slapd, `inum=${inum},ou=people,o=jans`, {
    objectClass: ['top', 'jansPerson', 'jansCustomPerson'],
    inum: [inum],
    uid: [inum],
    ...extra,
  });
  return inum;
}

/** A new login session of a user. */
export async function newSession(slapd: RunningSlapd, userInum: string): Promise<string> {
  const id = uniqueName('s').replace('_', '-');
  await addEntry(slapd, `registrySessionId=${id},ou=sessions,o=jans`, {
    objectClass: ['top', 'registrySession'],
    registrySessionId: [id],
    registrySessionUser: [userInum],
  });
  return id;
}

/** A new active definition with the given access and type, on a name person entries can carry. */
export async function newDefinition(app: TestApp, name: string, fields: Record<string, unknown>) {
  const reply = await call(app, 'POST', '/attributes', {
    token: app.adminToken,
    body: {
      name,
      displayName: uniqueName('Value test'),
      description: 'Holds values in a test',
      dataType: 'string',
      status: 'active',
      editType: ['admin', 'user'],
      viewType: ['admin', 'user'],
      ...fields,
    },
  });
  if (reply.status !== 201) throw new Error(`definition not created: ${JSON.stringify(reply.body)}`);
  return reply.body as { inum: string; name: string };
}
