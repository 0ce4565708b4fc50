import { execFile } from 'node:child_process';
import { rm, readFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import { parseLdif } from '../../src/directory/ldif.js';
import { ApiError, AttributesClient, type JansAttribute } from '../../src/index.js';
import {
  asRoot,
  contractProxy,
  eventually,
  tempDir,
  uniqueName,
  type ContractProxy,
  useTestApp,
} from './harness.js';
import { VALUE_SCOPE, newSession, newUser } from './values-fixtures.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCOPES = {
  read: 'https://jans.io/oauth/config/scopes.readonly',
  write: 'https://jans.io/oauth/config/scopes.write',
};

/** A loopback port that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('jans-attrs command line (child processes against the running service)', () => {
  const { app, directory } = useTestApp({ env: { SCHEMA_CHECK: 'false' } });
  let proxy: ContractProxy;
  let client: AttributesClient;
  let dir: string;

  before(async () => {
    // The command line talks to the service through this proxy, which checks every answer against the contract.
    proxy = await contractProxy(app.service.url);
    client = new AttributesClient({ baseUrl: app.service.url, token: app.adminToken });
    dir = await tempDir('cli');
  });
  afterEach(() => {
    expect(proxy.violations).to.deep.equal([]);
  });
  after(async () => {
    await proxy?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Runs `jans-attrs` from the project root, pointed at the test service by its environment variables. */
  function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'src/cli/jans-attrs.ts', ...args],
        {
          cwd: ROOT,
          env: { ...process.env, JANS_ATTRS_URL: proxy.url, JANS_ATTRS_TOKEN: app.adminToken, ...env },
        },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }
  /** Runs and expects success; returns stdout. */
  async function ok(args: string[]): Promise<string> {
    const run = await cli(args);
    expect(run.code, `jans-attrs ${args.join(' ')}: ${run.stderr}`).to.equal(0);
    return run.stdout;
  }
  async function file(name: string, content: unknown): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  }

  const definition = (name: string, overrides: Record<string, unknown> = {}) => ({
    name,
    displayName: 'CLI test',
    description: 'Made by the CLI test',
    dataType: 'string',
    status: 'active',
    editType: ['admin'],
    viewType: ['admin', 'user'],
    ...overrides,
  });

  /** Every definition whose name starts with one of these prefixes is removed after each test. */
  const prefixes: string[] = [];
  function prefix(): string {
    const p = uniqueName('cli');
    prefixes.push(p);
    return p;
  }
  afterEach(async () => {
    for (const p of prefixes.splice(0)) {
      for await (const a of client.listAll({ pattern: p })) {
        await client.delete(a.inum).catch((error: unknown) => {
          if (!(error instanceof ApiError && error.status === 404)) throw error;
        });
      }
    }
  });
  async function stored(name: string): Promise<JansAttribute | undefined> {
    const page = await client.list({ pattern: name });
    return page.entries?.find((a) => a.name === name);
  }

  describe('help and errors', () => {
    it('prints help at the top level and for every command', async () => {
      const top = await ok(['--help']);
      const commands = [
        'list',
        'get',
        'create',
        'replace',
        'patch',
        'delete',
        'history',
        'conflicts',
        'export',
        'import',
        'token',
        'seed',
      ];
      for (const command of commands) expect(top).to.match(new RegExp(`^  ${command} `, 'm'));
      for (const command of commands) {
        const help = await ok([command, '--help']);
        expect(help).to.match(new RegExp(`^Usage: jans-attrs ${command}`));
        expect(help).to.include('--url');
      }
      expect(await ok(['help', 'import'])).to.include('--dry-run');
    });

    it('exits 2 with one line on stderr for usage errors', async () => {
      for (const args of [
        ['frobnicate'],
        [],
        ['list', '--limit', 'many'],
        ['list', '--order', 'sideways'],
        ['list', '--no-such-option'],
        ['get'],
        ['get', 'a', 'b'],
        ['create'],
        ['create', '-f', join(dir, 'missing.json')],
        ['patch', 'X'],
        ['export', '--format', 'csv'],
      ]) {
        const run = await cli(args);
        expect(run.code, `jans-attrs ${args.join(' ')}`).to.equal(2);
        expect(run.stdout).to.equal('');
        expect(run.stderr).to.match(/^jans-attrs: [^\n]+\n$/);
      }
      const noToken = await cli(['list'], { JANS_ATTRS_TOKEN: '' });
      expect(noToken.code).to.equal(2);
      expect(noToken.stderr).to.include('JANS_ATTRS_TOKEN');
    });

    it('exits 1 with the ApiError’s code, message and description, never showing the token', async () => {
      const missing = await cli(['get', 'no-such-inum']);
      expect(missing.code).to.equal(1);
      expect(missing.stderr).to.equal("jans-attrs: 404 The requested jans attribute doesn't exist\n");

      const bad = await cli(['list', '--status', 'sleeping']);
      expect(bad.code).to.equal(1);
      expect(bad.stderr).to.match(/^jans-attrs: 400 Invalid [^\n]*status[^\n]*\n$/);

      const token = app.issuer.token(['https://jans.io/oauth/config/attributes.readonly']);
      const forbidden = await cli(['delete', 'X1', '--token', token]);
      expect(forbidden.code).to.equal(1);
      expect(forbidden.stderr).to.match(/^jans-attrs: 403 Insufficient scope \(This operation needs/);
      expect(forbidden.stderr).to.not.include(token);

      const closed = await closedPort();
      const unreachable = await cli(['list', '--url', `http://127.0.0.1:${closed}`]);
      expect(unreachable.code).to.equal(1);
      expect(unreachable.stderr).to.equal(
        `jans-attrs: cannot reach http://127.0.0.1:${closed}: ECONNREFUSED\n`,
      );
    });
  });

  describe('reading and writing single definitions', () => {
    it('lists a table or JSON, one page or all', async () => {
      const p = prefix();
      for (const n of [3, 1, 2]) await client.create(definition(`${p}_${n}`, { claimName: `claim_${n}` }));

      const table = (await ok(['list', '--pattern', p, '--sort', 'name'])).split('\n');
      expect(table[0]).to.match(/^inum +name +displayName +dataType +status +claimName$/);
      expect(table.slice(1, 4).map((l) => l.split(/ +/)[1])).to.deep.equal([`${p}_1`, `${p}_2`, `${p}_3`]);
      expect(table[1]).to.match(/ string +active +claim_1$/);
      const column = table[0]?.indexOf('displayName');
      expect(table.slice(1, 4).map((l) => l.indexOf('CLI test'))).to.deep.equal([column, column, column]);

      const page = JSON.parse(
        await ok(['list', '--pattern', p, '--sort', 'name', '--order', 'desc', '--limit', '2', '--json']),
      );
      expect(page).to.include({ start: 0, entriesCount: 2, totalEntriesCount: 3 });
      expect(page.entries.map((a: JansAttribute) => a.name)).to.deep.equal([`${p}_3`, `${p}_2`]);

      const all = JSON.parse(await ok(['list', '--pattern', p, '--all', '--limit', '1', '--json']));
      expect(all.map((a: JansAttribute) => a.name)).to.have.members([`${p}_1`, `${p}_2`, `${p}_3`]);
    });

    it('creates, shows, replaces, patches (--op and -f), and deletes with If-Match', async () => {
      const name = `${prefix()}_a`;
      const created = JSON.parse(
        await ok(['create', '-f', await file('create.json', definition(name)), '--json']),
      );
      expect(created).to.include({ name, dataType: 'string', displayName: 'CLI test' });
      const inum: string = created.inum;

      const shown = await ok(['get', inum]);
      expect(shown).to.match(new RegExp(`^name: +${name}$`, 'm'));
      const etag = /^etag: +(\S+)$/m.exec(shown)?.[1] ?? '';
      expect(etag).to.match(/^"[^"]+"$/);
      expect(JSON.parse(await ok(['get', inum, '--json']))).to.deep.equal(created);

      const replacement = { ...definition(name), inum, displayName: 'Replaced', claimName: 'replaced' };
      const replaced = await ok([
        'replace',
        '-f',
        await file('replace.json', replacement),
        '--if-match',
        etag,
      ]);
      expect(replaced).to.match(/^displayName: +Replaced$/m);
      const stale = await cli(['replace', '-f', join(dir, 'replace.json'), '--if-match', etag]);
      expect(stale.code).to.equal(1);
      expect(stale.stderr).to.match(/^jans-attrs: 412 Precondition failed .*; current ETag "[^"]+"\n$/);

      const replaceOp = '{"op":"replace","path":"/displayName","value":"By op"}';
      await ok([
        'patch',
        inum,
        '--op',
        replaceOp,
        '--op',
        '{"op":"add","path":"/editType/-","value":"user"}',
      ]);
      expect(await stored(name)).to.include({ displayName: 'By op' });
      expect((await stored(name))?.editType).to.deep.equal(['admin', 'user']);
      const ops = [
        { op: 'test', path: '/displayName', value: 'By op' },
        { op: 'replace', path: '/displayName', value: 'By file' },
      ];
      const patched = JSON.parse(await ok(['patch', inum, '-f', await file('patch.json', ops), '--json']));
      expect(patched.displayName).to.equal('By file');
      const failedTest = await cli(['patch', inum, '-f', join(dir, 'patch.json')]);
      expect(failedTest.code).to.equal(1);
      expect(failedTest.stderr).to.match(/^jans-attrs: 409 /);

      const history = (await ok(['history', inum])).split('\n');
      expect(history[0]).to.match(/^time +status +operation +actor +changed$/);
      expect(history.slice(1, 6).map((l) => l.split(/ +/).slice(1, 3).join(' '))).to.deep.equal([
        '409 patch-attributes-by-inum',
        '200 patch-attributes-by-inum',
        '200 patch-attributes-by-inum',
        '412 put-attributes',
        '200 put-attributes',
      ]);
      expect(history[2]).to.match(/tester \/ test-client +displayName$/);
      const page = JSON.parse(await ok(['history', inum, '--limit', '1', '--start', '5', '--json']));
      expect(page.entries.map((e: { operation: string }) => e.operation)).to.deep.equal(['post-attributes']);

      const refused = await cli(['delete', inum, '--if-match', etag]);
      expect(refused.code).to.equal(1);
      expect(refused.stderr).to.include('412');
      expect(await ok(['delete', inum])).to.equal(`deleted ${inum}\n`);
      expect(await stored(name)).to.equal(undefined);
    });
  });

  describe('histories of scopes and values', () => {
    it("shows a user's value writes by attribute, a session's, and a scope's changes", async () => {
      const token = app.issuer.token([...Object.values(VALUE_SCOPE), SCOPES.read, SCOPES.write], {
        subject: 'cli-tester',
      });
      const as = new AttributesClient({ baseUrl: app.service.url, token });
      const user = await newUser(directory.slapd);
      await as.userValues(user).set('nickname', 'Secret nick');
      await as.userValues(user).many({ op: 'set', items: [{ name: 'noSuchAttribute', value: 1 }] });
      const session = await newSession(directory.slapd, user);
      await as.sessionValues(session).set('nickname', 'In session');
      await as.patchScope('43F1', [
        { op: 'replace', path: '/description', value: 'Changed by the CLI test' },
      ]);

      const run = (args: string[]) => cli(args, { JANS_ATTRS_TOKEN: token });
      const users = await run(['history', user, '--user']);
      expect(users.code, users.stderr).to.equal(0);
      const lines = users.stdout.trim().split('\n');
      expect(lines).to.have.length(3);
      expect(lines[1]).to.match(
        /200 +post-user-attributes-many +cli-tester \/ test-client +noSuchAttribute \(400\)$/,
      );
      expect(lines[2]).to.match(/201 +put-user-attribute +cli-tester \/ test-client +nickname$/);
      expect(users.stdout).to.not.contain('Secret nick');
      const sessions = JSON.parse((await run(['history', session, '--session', '--json'])).stdout);
      expect(sessions.entries.map((e: { operation: string }) => e.operation)).to.deep.equal([
        'put-session-attribute',
      ]);
      const scopes = await run(['history', '43F1', '--scope', '--limit', '1']);
      expect(scopes.stdout.trim().split('\n')[1]).to.match(
        /200 +patch-oauth-scopes-by-id +cli-tester .* description$/,
      );
      const both = await run(['history', user, '--user', '--scope']);
      expect(both.code).to.equal(2);
      expect(both.stderr).to.include('at most one of --scope, --user and --session');
    });
  });

  describe('export and import', () => {
    it('exports every definition as JSON and as LDIF with Janssen’s names, base64 where RFC 2849 wants it', async () => {
      const p = prefix();
      const { attribute } = await client.create(
        definition(`${p}_x`, {
          description: ' starts with a space, ends in é',
          claimName: 'x_claim',
          jansHideOnDiscovery: true,
          scimCustomAttr: false,
          attributeValidation: { maxLength: 12 },
          usageType: ['openid'],
        }),
      );

      const json = JSON.parse(await ok(['export']));
      const total = (await client.list({ limit: 0 })).totalEntriesCount;
      expect(json).to.have.length(total);
      expect(json.find((a: JansAttribute) => a.inum === attribute.inum)).to.deep.equal(attribute);

      const out = join(dir, 'export.ldif');
      const run = await cli(['export', '--format', 'ldif', '-o', out]);
      expect(run.code).to.equal(0);
      expect(run.stdout).to.equal('');
      const text = await readFile(out, 'utf8');
      expect(text).to.match(/^version: 1\n\ndn: /);
      // Long values are folded (RFC 2849): no line over 76 characters, continuations start with a space.
      expect(text.split('\n').filter((l) => l.length > 76)).to.deep.equal([]);
      expect(text).to.match(/\n [^\n]/);
      const entries = parseLdif(text, out);
      expect(entries).to.have.length(total);
      const entry = entries.find((e) => e.dn === `inum=${attribute.inum},ou=attributes,o=jans`);
      expect(Object.fromEntries(entry?.attributes ?? [])).to.deep.equal({
        objectClass: ['top', 'jansAttr'],
        inum: [attribute.inum],
        jansAttrName: [`${p}_x`],
        displayName: ['CLI test'],
        description: [' starts with a space, ends in é'],
        jansAttrTyp: ['string'],
        jansAttrEditTyp: ['admin'],
        jansAttrViewTyp: ['admin', 'user'],
        jansAttrUsgTyp: ['openid'],
        jansClaimName: ['x_claim'],
        jansStatus: ['active'],
        jansScimCustomAttr: ['FALSE'],
        jansHideOnDiscovery: ['TRUE'],
        jansValidation: ['{"minLength":null,"maxLength":12,"regexp":""}'],
      });
      expect(text).to.include(
        `description:: ${Buffer.from(' starts with a space, ends in é').toString('base64')}\n`,
      );
    });

    it('imports JSON idempotently: adds what is missing, reports differences, --update replaces them', async () => {
      const p = prefix();
      await client.create(definition(`${p}_old`, { description: 'as stored' }));
      const input: Record<string, unknown>[] = [
        definition(`${p}_new1`),
        // Same as stored, written differently: enum case, role order, an explicit default.
        definition(`${p.toUpperCase()}_OLD`, {
          dataType: 'STRING',
          viewType: ['user', 'ADMIN'],
          description: 'as stored',
          scimCustomAttr: false,
        }),
        definition(`${p}_new2`),
      ];
      const path = await file('import.json', input);

      const dry = await ok(['import', '-f', path, '--dry-run']);
      expect(dry).to.match(/^added 2, unchanged 1, different 0 \(dry run: nothing was written\)$/m);
      expect(await stored(`${p}_new1`)).to.equal(undefined);

      const first = await ok(['import', '-f', path]);
      expect(first).to.match(new RegExp(`^added ${p}_new1 [0-9a-f-]{36}$`, 'm'));
      expect(first.trimEnd().split('\n').at(-1)).to.equal('added 2, unchanged 1, different 0');
      expect(await stored(`${p}_new2`)).to.include({ displayName: 'CLI test' });
      expect((await ok(['import', '-f', path])).trimEnd()).to.equal('added 0, unchanged 3, different 0');

      input[1] = { ...input[1], description: 'from the file' };
      await file('import.json', input);
      const different = await ok(['import', '-f', path]);
      expect(different).to.match(new RegExp(`^different ${p.toUpperCase()}_OLD \\S+: description$`, 'm'));
      expect(different.trimEnd().split('\n').at(-1)).to.equal('added 0, unchanged 2, different 1');
      expect(await stored(`${p}_old`)).to.include({ description: 'as stored' });

      const updated = await ok(['import', '-f', path, '--update']);
      expect(updated.trimEnd().split('\n').at(-1)).to.equal('added 0, unchanged 2, different 1, updated 1');
      // The stored name keeps its spelling: names are the same in any case.
      expect(await stored(`${p}_old`)).to.include({ description: 'from the file' });
      expect((await ok(['import', '-f', path])).trimEnd()).to.equal('added 0, unchanged 3, different 0');
    });

    it('imports LDIF (Janssen’s names, base64 values, other entries skipped), and its own export', async () => {
      const p = prefix();
      const ldif = `version: 1
# definitions made elsewhere
dn: ou=attributes,o=jans
objectClass: organizationalUnit
ou: attributes

dn: inum=L1,ou=attributes,o=jans
objectClass: top
objectClass: jansAttr
inum: L1
jansAttrName: ${p}_l1
displayName:: ${Buffer.from('Ünïcode name').toString('base64')}
description: First
jansAttrTyp: string
jansAttrEditTyp: admin
jansAttrViewTyp: user
jansClaimName: l1
jansStatus: active
jansHideOnDiscovery: true
jansValidation: {"minLength":2,"maxLength":null,"regexp":""}

dn: inum=L2,ou=attributes,o=jans
objectClass: top
objectClass: jansAttr
inum: L2
jansAttrName: ${p}_l2
displayName: Second
description: one
description: two
jansAttrTyp: numeric
jansAttrEditTyp: admin
jansAttrViewTyp: admin
`;
      const path = await file('import.ldif', ldif);
      const first = await cli(['import', '-f', path]);
      expect(first.code, first.stderr).to.equal(0);
      expect(first.stderr).to.include('skipped 1');
      expect(first.stdout.trimEnd().split('\n').at(-1)).to.equal('added 2, unchanged 0, different 0');
      expect(await stored(`${p}_l1`)).to.deep.include({
        displayName: 'Ünïcode name',
        claimName: 'l1',
        jansHideOnDiscovery: true,
        attributeValidation: { minLength: 2 },
        viewType: ['user'],
      });
      expect(await stored(`${p}_l2`)).to.include({ dataType: 'numeric', description: 'one' });
      expect((await ok(['import', '-f', path])).trimEnd()).to.equal('added 0, unchanged 2, different 0');

      // Everything the registry holds, exported and imported again, is unchanged.
      const total = (await client.list({ limit: 0 })).totalEntriesCount;
      const exported = join(dir, 'all.ldif');
      await ok(['export', '--format', 'ldif', '-o', exported]);
      expect((await ok(['import', '-f', exported])).trimEnd()).to.equal(
        `added 0, unchanged ${total}, different 0`,
      );

      const malformed = await cli(['import', '-f', await file('bad.ldif', 'dn: x\nnot a line\n')]);
      expect(malformed.code).to.equal(2);
      expect(malformed.stderr).to.match(/^jans-attrs: malformed LDIF: .*bad\.ldif:2: /);
    });
  });

  describe('development commands', () => {
    it('token prints a development token for DATA_DIR with the scopes asked for', async () => {
      const dataDir = join(dir, 'data');
      const token = (
        await cli(['token', '--scope', 'a b', '--sub', 'me'], { DATA_DIR: dataDir })
      ).stdout.trim();
      const publicKey = await readFile(join(dataDir, 'jwt-public.pem'), 'utf8');
      expect(jwt.verify(token, publicKey)).to.include({ scope: 'a b', sub: 'me' });
    });

    it('seed loads LDIF into the directory through src/cli/seed.ts', async () => {
      const p = prefix();
      const inum = `S-${p}`;
      const ldif = `dn: inum=${inum},ou=attributes,o=jans
objectClass: top
objectClass: jansAttr
inum: ${inum}
jansAttrName: ${p}_seeded
displayName: Seeded
description: Loaded by the seed command
jansAttrTyp: string
jansAttrEditTyp: admin
jansAttrViewTyp: admin
`;
      const env = {
        LDAP_URL: directory.slapd.url,
        LDAP_BIND_DN: directory.slapd.bindDn,
        LDAP_BIND_PASSWORD: directory.slapd.password,
      };
      const args = ['seed', '--ldif', await file('seed.ldif', ldif)];
      const first = await cli(args, env);
      expect(first.code, first.stderr).to.equal(0);
      expect(first.stdout).to.equal('added 1, unchanged 0, different 0\n');
      expect((await cli(args, env)).stdout).to.equal('added 0, unchanged 1, different 0\n');
      expect(JSON.parse(await ok(['get', inum, '--json']))).to.include({ name: `${p}_seeded` });
    });
  });

  describe('conflicts', () => {
    it('lists the definitions that share an active claim name, as replication can leave them', async () => {
      const p = prefix();
      const claim = `${p}_claim`.toLowerCase();
      // Written behind the service's back, as replication delivers two racing creations.
      await asRoot(directory.slapd, async (c) => {
        for (const n of [1, 2]) {
          await c.add(`inum=${p}-${n},ou=attributes,o=jans`, {
            objectClass: ['top', 'jansAttr'],
            inum: `${p}-${n}`,
            jansAttrName: `${p}_${n}`,
            displayName: 'Raced',
            description: 'Created through another provider',
            jansAttrTyp: 'string',
            jansStatus: 'active',
            jansAttrEditTyp: 'admin',
            jansAttrViewTyp: 'admin',
            jansClaimName: claim,
          });
        }
      });
      const listed = await eventually(
        'the conflict reaching the index',
        () => ok(['conflicts']),
        (text) => text.includes(claim),
      );
      expect(listed).to.match(
        new RegExp(`^claimName +${claim} +${p}-1 \\(${p}_1\\), ${p}-2 \\(${p}_2\\)$`, 'm'),
      );
      const [conflict] = (JSON.parse(await ok(['conflicts', '--json'])) as { value: string }[]).filter(
        (c) => c.value === claim,
      );
      expect(conflict).to.deep.include({ kind: 'claimName', value: claim });
    });
  });
});
