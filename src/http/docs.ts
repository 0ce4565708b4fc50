import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type Router from '@koa/router';
import type { ParameterizedContext } from 'koa';
import type { Document } from 'openapi-backend';
import { SERVER_ROOT } from './openapi.js';

const gzip = promisify(gzipCallback);

/** The interactive API docs (Swagger UI) live here; the page itself is `${DOCS_ROOT}/`. */
export const DOCS_ROOT = '/jans-config-api/docs';

/** The name of the security scheme that the docs copy of the document adds for pasted tokens. */
export const BEARER_SCHEME = 'bearerAuth';

/**
 * Every docs response carries this policy: everything from this origin only, no inline scripts or styles.
 * `data:` images are needed by swagger-ui.css (its icons are inline SVG and PNG data URLs).
 */
export const DOCS_CSP = [
  "default-src 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json',
  png: 'image/png',
} as const;

/** Package files: kept a week; the page links them with `?v=<installed version>`, so an upgrade is fetched anew. */
const ASSET_CACHE = 'public, max-age=604800';
/** Our own files (page, initializer, document): always revalidated, cheaply, by ETag. */
const PAGE_CACHE = 'no-cache';

/**
 * The files of swagger-ui-dist that are served: a fixed allow-list, each registered as its own route, so no
 * request path ever reaches the file system. The standalone preset is left out on purpose: it only adds a
 * top bar with a free "explore" URL box, and this page shows one document.
 */
const PACKAGE_FILES: Record<string, keyof typeof TYPES> = {
  'swagger-ui.css': 'css',
  'index.css': 'css',
  'swagger-ui-bundle.js': 'js',
  'favicon-32x32.png': 'png',
  'favicon-16x16.png': 'png',
};

interface Asset {
  body: Buffer;
  /** Present for compressible text larger than a packet. */
  gzipped?: Buffer;
  etag: string;
  type: string;
  cacheControl: string;
}

async function makeAsset(body: Buffer, kind: keyof typeof TYPES, cacheControl: string): Promise<Asset> {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  const gzipped = kind !== 'png' && body.length > 1400 ? await gzip(body, { level: 9 }) : undefined;
  return { body, gzipped, etag, type: TYPES[kind], cacheControl };
}

function swaggerUiDist(): { dir: string; version: string } {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve('swagger-ui-dist/package.json');
  const { version } = require(manifest) as { version: string };
  return { dir: dirname(manifest), version };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function indexHtml(title: string, version: string): string {
  const v = encodeURIComponent(version);
  // Relative links: the page is always served at `${DOCS_ROOT}/` (the bare path redirects there).
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${escapeHtml(title)} — API docs</title>
    <link rel="stylesheet" href="swagger-ui.css?v=${v}" />
    <link rel="stylesheet" href="index.css?v=${v}" />
    <link rel="icon" type="image/png" sizes="32x32" href="favicon-32x32.png?v=${v}" />
    <link rel="icon" type="image/png" sizes="16x16" href="favicon-16x16.png?v=${v}" />
  </head>
  <body>
    <noscript>This page needs JavaScript. The OpenAPI document is at <a href="../openapi.json">../openapi.json</a>.</noscript>
    <div id="swagger-ui"></div>
    <script src="swagger-ui-bundle.js?v=${v}"></script>
    <script src="docs-init.js"></script>
  </body>
</html>
`;
}

/**
 * The page's only script of our own; a file rather than inline, so that the CSP needs no 'unsafe-inline'.
 * BaseLayout: no top bar and no way to load another document. validatorUrl null: no badge fetched from
 * validator.swagger.io. queryConfigEnabled false: the page's query string cannot change the configuration.
 * persistAuthorization false: a pasted token lives in the page's memory only.
 */
const INITIALIZER = `'use strict';
window.ui = SwaggerUIBundle({
  url: new URL('openapi.json', document.baseURI).href,
  dom_id: '#swagger-ui',
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  deepLinking: true,
  displayOperationId: true,
  displayRequestDuration: true,
  validatorUrl: null,
  queryConfigEnabled: false,
  persistAuthorization: false,
});
`;

type Json = Record<string, unknown>;
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

function withBearer(requirements: unknown): unknown {
  if (!Array.isArray(requirements) || requirements.length === 0) return requirements; // absent or public
  if (requirements.some((r: Json) => BEARER_SCHEME in r)) return requirements;
  return [...requirements, { [BEARER_SCHEME]: [] }];
}

/**
 * The document as the docs page shows it. The contract declares OAuth2 client credentials, and Swagger UI
 * would then only offer to fetch a token from the token URL. Every protected operation gets an alternative
 * requirement of an http bearer scheme, so the Authorize dialog has a field where an access token is pasted
 * and "Try it out" sends it as `Authorization: Bearer …`. This changes no rule: the service checks the token
 * and its scopes exactly as before, and the scopes stay documented on the oauth2 requirements. The server
 * is this origin's config API context. The served contract (/jans-config-api/openapi.json) is left as it is.
 */
export function docsDocument(document: Document): Json {
  const copy = structuredClone(document) as unknown as Json;
  copy.servers = [{ url: SERVER_ROOT, description: 'This service' }];
  const info = (copy.info ?? {}) as Json;
  info.description = `${String(info.description ?? '').trimEnd()}\n\nTo try an operation here, choose **Authorize** and paste an access token under \`${BEARER_SCHEME}\`.\n`;
  copy.info = info;
  const components = (copy.components ?? {}) as Json;
  components.securitySchemes = {
    ...(components.securitySchemes as Json | undefined),
    [BEARER_SCHEME]: {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description: 'Paste an access token; it is sent as `Authorization: Bearer <token>`.',
    },
  };
  copy.components = components;
  if (copy.security) copy.security = withBearer(copy.security);
  for (const item of Object.values((copy.paths ?? {}) as Record<string, Json>)) {
    for (const method of METHODS) {
      const operation = item[method] as Json | undefined;
      if (operation?.security) operation.security = withBearer(operation.security);
    }
  }
  return copy;
}

function send(ctx: ParameterizedContext, asset: Asset): void {
  ctx.status = 200;
  ctx.set('Content-Security-Policy', DOCS_CSP);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('Cache-Control', asset.cacheControl);
  ctx.set('ETag', asset.etag);
  if (asset.gzipped) ctx.vary('Accept-Encoding');
  if (ctx.fresh) {
    ctx.status = 304;
    return;
  }
  if (asset.gzipped && ctx.acceptsEncodings('gzip', 'identity') === 'gzip') {
    ctx.set('Content-Encoding', 'gzip');
    ctx.body = asset.gzipped;
  } else {
    ctx.body = asset.body;
  }
  // Set as is: Koa's type setter would add a charset to application/json.
  ctx.set('Content-Type', asset.type);
}

/**
 * Registers the docs routes on `router`: `${DOCS_ROOT}` (redirects to `${DOCS_ROOT}/`), the page, its
 * initializer, the docs copy of `document` at `${DOCS_ROOT}/openapi.json`, and the allow-listed Swagger UI
 * files. Files are read and compressed once, on first use; any other path under `${DOCS_ROOT}/` is not
 * routed here and ends as the app's usual 404.
 */
export function registerDocs(router: Router, document: Document): void {
  const { dir, version } = swaggerUiDist();
  const title = String((document.info as { title?: unknown } | undefined)?.title ?? 'API');
  const cache = new Map<string, Promise<Asset>>();
  const once = (name: string, load: () => Promise<Asset>): Promise<Asset> => {
    let asset = cache.get(name);
    if (!asset) {
      asset = load();
      cache.set(name, asset);
      asset.catch(() => cache.delete(name)); // a failed read is retried by the next request
    }
    return asset;
  };
  const own = (kind: keyof typeof TYPES, text: () => string) => () =>
    makeAsset(Buffer.from(text(), 'utf8'), kind, PAGE_CACHE);

  const index = own('html', () => indexHtml(title, version));
  router.get([DOCS_ROOT, `${DOCS_ROOT}/`], async (ctx) => {
    if (!ctx.path.endsWith('/')) {
      ctx.status = 301;
      ctx.redirect(`${DOCS_ROOT}/`);
      return;
    }
    send(ctx, await once('index.html', index));
  });
  const initializer = own('js', () => INITIALIZER);
  router.get(`${DOCS_ROOT}/docs-init.js`, async (ctx) => send(ctx, await once('docs-init.js', initializer)));
  const spec = own('json', () => JSON.stringify(docsDocument(document)));
  router.get(`${DOCS_ROOT}/openapi.json`, async (ctx) => send(ctx, await once('openapi.json', spec)));
  for (const [name, kind] of Object.entries(PACKAGE_FILES)) {
    const load = async () => makeAsset(await readFile(join(dir, name)), kind, ASSET_CACHE);
    router.get(`${DOCS_ROOT}/${name}`, async (ctx) => send(ctx, await once(name, load)));
  }
}
