import { Writable } from 'node:stream';
import { expect } from 'chai';
import { pino } from 'pino';
import { SCOPE, call, startTestApp, startTestDirectory, type TestApp } from './harness.js';

describe('what operators see: health, request ids, metrics, logs', () => {
  let directory: Awaited<ReturnType<typeof startTestDirectory>>;
  let app: TestApp;
  const lines: string[] = [];

  before(async () => {
    directory = await startTestDirectory();
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    app = await startTestApp(directory.slapd, {}, pino({ level: 'info' }, sink));
  });
  after(async () => {
    await app?.stop();
    await directory?.stop();
  });

  const plain = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${app.service.url}${path}`, { headers });

  it('answers the probes without a token', async () => {
    const live = await plain('/health/live');
    expect(live.status).to.equal(200);
    expect(await live.json()).to.deep.equal({ status: 'up' });
    expect((await plain('/health/ready')).status).to.equal(200);
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
    expect(text).to.match(/ldap_connections_in_use [1-9]/);
    expect(text).to.match(/token_verification_failures_total\{reason="The token is not valid"\} [1-9]/);
    expect(text).to.match(/audit_events_not_stored \d+/);
  });
});
