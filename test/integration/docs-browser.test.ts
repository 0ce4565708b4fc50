import { mkdir } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { chromium, type Browser, type Request } from 'playwright-core';
import { BEARER_SCHEME, DOCS_CSP, DOCS_ROOT } from '../../src/http/docs.js';
import { API_ROOT, SERVER_ROOT, loadOpenApiDocument } from '../../src/http/openapi.js';
import { useTestApp } from './harness.js';

/** Debian's chromium (scripts/setup --test installs it); no browser is ever downloaded. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Every operation of the OpenAPI document, as Swagger UI lists it: method, path, operationId. */
function documentedOperations(): string[] {
  const paths = loadOpenApiDocument().paths as Record<string, Record<string, { operationId?: string }>>;
  return Object.entries(paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([, operation]) => operation.operationId)
      .map(([method, operation]) => `${method.toUpperCase()} ${path} ${operation.operationId}`),
  );
}

/** True for URLs that stay on this machine (data: and blob: never leave the page). */
function isLocal(url: string): boolean {
  const parsed = new URL(url);
  if (parsed.protocol === 'data:' || parsed.protocol === 'blob:') return true;
  return LOOPBACK.has(parsed.hostname);
}

/**
 * A GET with the path and headers sent byte for byte: fetch would normalise dot segments away, and adds
 * `Cache-Control: no-cache` to conditional requests.
 */
function rawGet(
  base: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, headers, method: 'GET', timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

describe('API docs page (Swagger UI)', function () {
  this.timeout(60_000);
  const { app } = useTestApp();
  let docs: string;

  before(() => {
    docs = `${app.service.url}${DOCS_ROOT}`;
  });

  it('redirects the bare path to the page', async () => {
    const response = await fetch(docs, { redirect: 'manual' });
    expect(response.status).to.equal(301);
    expect(response.headers.get('location')).to.equal(`${DOCS_ROOT}/`);
  });

  it('serves the page and the allow-listed files with their types, the CSP and cache headers', async () => {
    const expected: Record<string, [string, RegExp]> = {
      '/': ['text/html; charset=utf-8', /^no-cache$/],
      '/docs-init.js': ['text/javascript; charset=utf-8', /^no-cache$/],
      '/openapi.json': ['application/json', /^no-cache$/],
      '/swagger-ui.css': ['text/css; charset=utf-8', /max-age=\d+/],
      '/index.css': ['text/css; charset=utf-8', /max-age=\d+/],
      '/swagger-ui-bundle.js': ['text/javascript; charset=utf-8', /max-age=\d+/],
      '/favicon-32x32.png': ['image/png', /max-age=\d+/],
      '/favicon-16x16.png': ['image/png', /max-age=\d+/],
    };
    for (const [path, [type, cacheControl]] of Object.entries(expected)) {
      const response = await fetch(`${docs}${path}`, { headers: { 'accept-encoding': 'gzip' } });
      expect(response.status, path).to.equal(200);
      expect(response.headers.get('content-type'), path).to.equal(type);
      expect(response.headers.get('content-security-policy'), path).to.equal(DOCS_CSP);
      expect(response.headers.get('x-content-type-options'), path).to.equal('nosniff');
      expect(response.headers.get('cache-control'), path).to.match(cacheControl);
      const etag = response.headers.get('etag');
      expect(etag, path).to.be.a('string');
      expect((await response.arrayBuffer()).byteLength, path).to.be.greaterThan(100);
      const again = await rawGet(app.service.url, `${DOCS_ROOT}${path}`, { 'if-none-match': etag as string });
      expect(again.status, `${path} revalidated`).to.equal(304);
      expect(again.body, `${path} revalidated`).to.equal('');
    }
    const bundle = await fetch(`${docs}/swagger-ui-bundle.js`, { headers: { 'accept-encoding': 'gzip' } });
    expect(bundle.headers.get('content-encoding')).to.equal('gzip');
    expect(await bundle.text()).to.include('SwaggerUIBundle');
  });

  it('serves nothing outside the allow-list', async () => {
    for (const path of [
      '/package.json',
      '/swagger-ui.js.map',
      '/swagger-ui-es-bundle.js',
      '/oauth2-redirect.html',
      '/index.html',
      '/../../package.json',
      '/..%2f..%2fpackage.json',
      '/%2e%2e/%2e%2e/package.json',
      '/swagger-ui.css%00.map',
      '/.%2fswagger-ui.css',
      '/..%5cpackage.json',
    ]) {
      const reply = await rawGet(app.service.url, `${DOCS_ROOT}${path}`);
      expect(reply.status, path).to.equal(404);
      expect(reply.body, path).not.to.include('"name"');
    }
  });

  it('leaves the contract alone and gives the docs copy a bearer alternative on every operation', async () => {
    const contract = await (await fetch(`${app.service.url}/jans-config-api/openapi.json`)).json();
    expect(contract).to.deep.equal(loadOpenApiDocument());
    const copy = await (await fetch(`${docs}/openapi.json`)).json();
    expect(copy.servers).to.deep.equal([{ url: SERVER_ROOT, description: 'This service' }]);
    expect(copy.components.securitySchemes[BEARER_SCHEME]).to.include({ type: 'http', scheme: 'bearer' });
    expect(copy.components.securitySchemes.oauth2).to.deep.equal(contract.components.securitySchemes.oauth2);
    let operations = 0;
    for (const [path, item] of Object.entries<Record<string, { security?: object[] }>>(contract.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        if (!operation.security) continue;
        operations += 1;
        expect(copy.paths[path][method].security, `${method} ${path}`).to.deep.equal([
          ...operation.security,
          { [BEARER_SCHEME]: [] },
        ]);
      }
    }
    expect(operations).to.equal(documentedOperations().length);
  });

  describe('in Chromium', function () {
    let browser: Browser | undefined;

    before(async () => {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        timeout: 30_000,
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
        ],
      });
    });

    after(async () => {
      await browser?.close();
    });

    it('lists the operations and runs get-attributes with a pasted bearer token', async () => {
      const context = await (browser as Browser).newContext({ viewport: { width: 1280, height: 900 } });
      try {
        const page = await context.newPage();
        page.setDefaultTimeout(15_000);
        page.setDefaultNavigationTimeout(15_000);
        const requested: string[] = [];
        const problems: string[] = [];
        page.on('request', (request) => requested.push(request.url()));
        page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
        page.on('console', (message) => {
          if (message.type() === 'error') problems.push(`console: ${message.text()}`);
        });
        // CSP refusals reach the console only as browser log entries: report them as console errors.
        await context.addInitScript(() =>
          document.addEventListener('securitypolicyviolation', (event) =>
            console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`),
          ),
        );
        // Belt and braces: whatever the page tries, nothing leaves the machine.
        await context.route('**/*', (route) =>
          isLocal(route.request().url()) ? route.continue() : route.abort('blockedbyclient'),
        );

        const response = await page.goto(docs, { waitUntil: 'load' });
        expect(response?.status()).to.equal(200);
        expect(page.url()).to.equal(`${docs}/`);
        await page
          .locator('.opblock')
          .nth(documentedOperations().length - 1)
          .waitFor();

        const listed = await page
          .locator('.opblock')
          .evaluateAll((blocks) =>
            blocks.map((block) =>
              [
                block.querySelector('.opblock-summary-method')?.textContent,
                block.querySelector('.opblock-summary-path')?.getAttribute('data-path'),
                block.querySelector('.opblock-summary-operation-id')?.textContent,
              ].join(' '),
            ),
          );
        expect(listed).to.have.members(documentedOperations());

        // Authorize: paste the token into the bearer scheme's field.
        await page.locator('.auth-wrapper button.authorize').click();
        const bearer = page.locator('.auth-container').filter({ hasText: BEARER_SCHEME });
        await bearer.locator('input').fill(app.adminToken);
        await bearer.locator('button.authorize').click();
        await bearer.getByRole('heading', { name: 'Authorized' }).waitFor();
        await bearer.getByRole('button', { name: 'Close' }).click();
        await page.locator('.modal-ux').waitFor({ state: 'detached' });

        // get-attributes: Try it out, Execute, and read the live response.
        const operation = page.locator('#operations-Attribute-get-attributes');
        await operation.locator('.opblock-summary-control').click();
        await operation.getByRole('button', { name: 'Try it out' }).click();
        const [apiCall] = await Promise.all([
          page.waitForRequest((request: Request) => request.url().includes(`${API_ROOT}/attributes`)),
          operation.getByRole('button', { name: 'Execute' }).click(),
        ]);
        expect(new URL(apiCall.url()).origin).to.equal(app.service.url);
        expect((await apiCall.allHeaders()).authorization).to.equal(`Bearer ${app.adminToken}`);

        const live = operation.locator('.live-responses-table .response');
        await live.locator('.response-col_status').filter({ hasText: '200' }).waitFor();
        const body = await live.locator('.response-col_description pre').first().innerText();
        expect(body).to.include('totalEntriesCount');
        expect(body).to.include('"inum"');

        await mkdir(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: `${ARTIFACTS}docs-page.png`, fullPage: true, timeout: 15_000 });

        expect(
          requested.filter((url) => !isLocal(url)),
          'requests off this machine',
        ).to.deep.equal([]);
        expect(problems, 'errors in the page (CSP violations included)').to.deep.equal([]);
      } finally {
        await context.close();
      }
    });
  });
});
