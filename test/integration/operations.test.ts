import { spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { Client } from 'ldapts';
import { pino } from 'pino';
import { renderConfig } from '../../src/directory/slapd-config.js';
import {
  createConfigDir,
  findSlapd,
  freePort,
  startSlapd,
  type RunningSlapd,
} from '../../src/directory/slapd.js';
import { withoutProjectSchema } from '../fixtures/slapd-configs.js';
import {
  SCOPE,
  call,
  startTestApp,
  tempDir,
  uniqueName,
  type TestApp,
  JANSSEN_REQUIRED,
  useTestApp,
  eventually,
} from './harness.js';

/**
 * A slapd that knows only the core schema (no jansAttr), holding o=jans and an empty ou=attributes: a
 * directory that answers but was set up without the project's schema.
 */
async function startSlapdWithoutSchema(dir: string): Promise<RunningSlapd> {
  const password = 'secret';
  const configDir = join(dir, 'slapd.d');
  await mkdir(join(dir, 'db'));
  createConfigDir(configDir, renderConfig(withoutProjectSchema(dir, password)));
  const slapd = findSlapd() as string;
  const url = `ldap://127.0.0.1:${await freePort()}`;
  const child = spawn(slapd, ['-F', configDir, '-h', `${url}/`, '-d', 'none'], { stdio: 'ignore' });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const client = new Client({ url, connectTimeout: 500 });
  await eventually(
    'the directory without the schema accepting a bind',
    () =>
      client.bind('cn=admin,o=jans', password).then(
        () => true,
        () => false,
      ),
    Boolean,
  );
  await client.add('o=jans', { objectClass: ['organization'], o: ['jans'] });
  await client.add('ou=attributes,o=jans', { objectClass: ['organizationalUnit'], ou: ['attributes'] });
  await client.unbind();
  return {
    url,
    bindDn: 'cn=admin,o=jans',
    configDn: 'cn=config',
    password,
    created: true,
    schemaChanges: [],
    process: child,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

describe('what operators see: health, request ids, metrics, logs', () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const { app, directory } = useTestApp({ log: pino({ level: 'info' }, sink) });

  const plain = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${app.service.url}${path}`, { headers });

  it('answers the probes without a token', async () => {
    const live = await plain('/health/live');
    expect(live.status).to.equal(200);
    expect(await live.json()).to.deep.equal({ status: 'up' });
    // Ready means answering with the project's schema (the case without it is below).
    expect((await plain('/health/ready')).status).to.equal(200);
    expect(await app.service.directory.knowsObjectClass('jansAttr')).to.equal(true);
  });

  it('echoes a sane X-Request-Id and makes one up otherwise', async () => {
    const given = await call(app, 'GET', '/attributes/08E2', {
      token: app.adminToken,
      headers: { 'x-request-id': 'req-42' },
    });
    expect(given.headers.get('x-request-id')).to.equal('req-42');
    const made = await call(app, 'GET', '/attributes/08E2', {
      token: app.adminToken,
      headers: { 'x-request-id': 'bad id with spaces' },
    });
    expect(made.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
  });

  it('logs one JSON line per request with its id, operation, status and duration, and never the token', async () => {
    const token = app.issuer.token([SCOPE.read]);
    await call(app, 'GET', '/attributes?limit=1', { token, headers: { 'x-request-id': 'trace-me' } });
    await call(app, 'GET', '/attributes?limit=1', { token: `${token}x` });
    const line = lines.map((l) => JSON.parse(l)).find((l) => l.requestId === 'trace-me');
    expect(line).to.include({ msg: 'request', operationId: 'get-attributes', status: 200, method: 'GET' });
    expect(line.ms).to.be.a('number');
    expect(lines.join('\n')).to.not.contain(token.split('.')[2]);
  });

  it('exposes Prometheus metrics: requests, latency, directory operations, connections, token failures', async () => {
    await call(app, 'GET', '/attributes/08E2', { token: app.adminToken });
    await call(app, 'GET', '/attributes/08E2', { token: 'not-a-token' });
    const reply = await plain('/metrics');
    expect(reply.headers.get('content-type')).to.contain('text/plain');
    const text = await reply.text();
    expect(text).to.match(/http_requests_total\{operation="get-attributes-by-inum",status="200"\} \d+/);
    expect(text).to.match(
      /http_request_duration_seconds_bucket\{le="[^"]+",operation="get-attributes-by-inum",status="200"\}/,
    );
    expect(text).to.match(/ldap_operation_duration_seconds_count\{operation="search",outcome="ok"\} \d+/);
    expect(text).to.match(/ldap_connections_open [1-9]/);
    expect(text).to.match(/ldap_operations_pending \d+/);
    expect(text).to.match(/token_verification_failures_total\{reason="The token is not valid"\} [1-9]/);
    expect(text).to.match(/audit_events_not_stored \d+/);
    expect(text).to.match(/^log_lines_dropped_total \d+$/m);
  });

  it('counts failed binds in the LDAP metrics while the directory is down, and is ready again once it is back', async () => {
    const port = Number(new URL(directory.slapd.url).port);
    const failedBinds =
      /ldap_operation_duration_seconds_count\{operation="bind",outcome="(?!ok")[^"]+"\} [1-9]/;
    expect(await (await plain('/metrics')).text()).to.not.match(failedBinds);
    await directory.slapd.stop();
    try {
      // A write needs the directory (reads are served from memory); it logs the failure it answers with.
      const write = await call(app, 'POST', '/attributes', {
        token: app.adminToken,
        body: { ...JANSSEN_REQUIRED, name: uniqueName('outage'), displayName: 'Outage', dataType: 'string' },
      });
      expect(write.status).to.equal(503);
      // A connection the service has not yet seen close fails its operation instead; the next one binds.
      const text = await eventually(
        'a failed bind counted',
        async () => {
          expect((await plain('/health/ready')).status).to.equal(503);
          return (await plain('/metrics')).text();
        },
        (metrics) => failedBinds.test(metrics),
      );
      expect(text).to.match(failedBinds);
    } finally {
      directory.slapd = await startSlapd({ dataDir: directory.dataDir, suffix: 'o=jans', port });
    }
    expect((await plain('/health/ready')).status).to.equal(200);
  });

  it('never logs the directory password, and censors credentials whoever logs them', async () => {
    // By now the log holds start-up, requests, refused tokens and the outage above.
    expect(lines.length).to.be.above(5);
    expect(lines.join('\n')).to.not.contain(directory.slapd.password);
    const before = lines.length;
    app.service.log.warn(
      {
        password: 'pw-1',
        config: { ldapBindPassword: 'pw-2', jwtSecret: 'pw-3' },
        req: { headers: { authorization: 'Bearer pw-4' } },
        introspection: { clientSecret: 'pw-5' },
        token: 'pw-6',
      },
      'a careless line',
    );
    const careless = lines.slice(before).join('\n');
    expect(careless).to.contain('a careless line').and.contain('[Redacted]');
    expect(careless).to.not.match(/pw-\d/);
  });
});

describe('readiness: the directory answers and has the project schema', () => {
  let dir: string;
  let slapd: RunningSlapd;
  let app: TestApp;

  before(async () => {
    dir = await tempDir('no-schema');
    slapd = await startSlapdWithoutSchema(dir);
    app = await startTestApp(slapd, { SCHEMA_CHECK: 'false', LDAP_CHANGELOG_DN: '' });
  });
  after(async () => {
    await app?.stop();
    await slapd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('is live but not ready when the directory answers without the jansAttr object class', async () => {
    expect((await fetch(`${app.service.url}/health/live`)).status).to.equal(200);
    const ready = await fetch(`${app.service.url}/health/ready`);
    expect(ready.status).to.equal(503);
    expect(await app.service.directory.knowsObjectClass('organizationalUnit')).to.equal(true);
    expect(await app.service.directory.knowsObjectClass('jansAttr')).to.equal(false);
  });
});
