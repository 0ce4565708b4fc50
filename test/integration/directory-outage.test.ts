import { expect } from 'chai';
import { startSlapd } from '../../src/directory/slapd.js';
import { call, startTestApp, startTestDirectory, type TestApp } from './harness.js';

describe('when the directory goes away and comes back', () => {
  let directory: Awaited<ReturnType<typeof startTestDirectory>>;
  let app: TestApp;

  before(async () => {
    directory = await startTestDirectory();
    app = await startTestApp(directory.slapd);
  });
  after(async () => {
    await app?.stop();
    await directory?.stop();
  });

  const ready = async () => (await fetch(`${app.service.url}/health/ready`)).status;

  it('answers 503 with Retry-After while it is down, and recovers by itself when it is back', async () => {
    const token = app.adminToken;
    expect((await call(app, 'GET', '/attributes/08E2', { token })).status).to.equal(200);
    expect(await ready()).to.equal(200);

    const port = Number(new URL(directory.slapd.url).port);
    await directory.slapd.stop();
    const started = Date.now();
    for (const path of ['/attributes/08E2', '/attributes?pattern=edu']) {
      const reply = await call(app, 'GET', path, { token });
      expect(reply.status).to.equal(503);
      expect(reply.headers.get('retry-after')).to.match(/^\d+$/);
      expect(reply.body.message).to.equal('The directory is unavailable');
    }
    const write = await call(app, 'DELETE', '/attributes/08E2', { token });
    expect(write.status).to.equal(503);
    expect(Date.now() - started, 'failing fast, not hanging').to.be.below(5000);
    expect(await ready()).to.equal(503);

    directory.slapd = await startSlapd({ dataDir: directory.dataDir, suffix: 'o=jans', port });
    const back = await call(app, 'GET', '/attributes/08E2', { token });
    expect(back.status).to.equal(200);
    expect(back.body.name).to.equal('departmentNumber');
    expect(await ready()).to.equal(200);
  });
});
