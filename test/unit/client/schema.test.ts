import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { format, resolveConfig } from 'prettier';
import { API_ROOT } from '../../../src/client/index.js';
import { loadOpenApiDocument } from '../../../src/http/openapi.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const SCHEMA = join(ROOT, 'src/client/schema.ts');

describe('the client’s generated types', () => {
  it('are what `npm run generate:client` makes from openapi/attributes.yaml now', async () => {
    // The same steps as the npm script: openapi-typescript, then prettier with the project's settings.
    const dir = await mkdtemp(join(tmpdir(), 'client-schema-'));
    try {
      const out = join(dir, 'schema.ts');
      const bin = join(ROOT, 'node_modules/.bin/openapi-typescript');
      await promisify(execFile)(bin, ['openapi/attributes.yaml', '-o', out], { cwd: ROOT });
      const options = { ...(await resolveConfig(SCHEMA)), filepath: SCHEMA };
      const fresh = await format(await readFile(out, 'utf8'), options);
      const committed = await readFile(SCHEMA, 'utf8');
      expect(fresh, 'src/client/schema.ts is stale: run npm run generate:client').to.equal(committed);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('are used by a client method for every operation of the document', async () => {
    const document = loadOpenApiDocument() as {
      paths: Record<string, Record<string, { operationId?: string }>>;
    };
    const operations = Object.values(document.paths).flatMap((path) =>
      Object.values(path).flatMap((op) => (op.operationId ? [op.operationId] : [])),
    );
    const client = await readFile(join(ROOT, 'src/client/attributes-client.ts'), 'utf8');
    // `get-*-attribute` documents the user and the session form of an operation at once.
    const documented = [...client.matchAll(/\/\*\*\s*(?:\*\s*)?`([a-z*-]+)`/g)].flatMap((m) =>
      (m[1] ?? '').includes('*')
        ? ['user', 'session'].map((kind) => (m[1] ?? '').replace('*', kind))
        : [m[1]],
    );
    expect([...new Set(documented)].sort()).to.deep.equal([...new Set(operations)].sort());
  });

  it('address the API where the document serves it: its server joined with each of its paths', () => {
    const document = loadOpenApiDocument() as { servers?: { url: string }[]; paths: object };
    const server = document.servers?.[0]?.url ?? '';
    const paths = Object.keys(document.paths);
    expect(paths).to.have.length.greaterThan(0);
    for (const path of paths) expect(`${server}${path}`, path).to.match(new RegExp(`^${API_ROOT}/`));
  });
});
