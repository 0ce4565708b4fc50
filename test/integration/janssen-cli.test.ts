import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { assertMatchesContract, call, uniqueName, type Reply, useTestApp } from './harness.js';
import { upstreamPatchBodyViolations } from './upstream-contract.js';

/**
 * The requests Janssen's command line (jans-cli-tui, cli/config_cli.py in JanssenProject/jans) sends for
 * each attribute operation it offers, byte for byte where it matters:
 * - it finds an operation by operationId in its OpenAPI document and calls
 *   `https://<host>/jans-config-api` + the operation's path, `{inum}` filled from `--url-suffix inum:…`;
 * - it sends `Accept: application/json` and `Jans-Client: jans-tui`, and a body's content type is the
 *   first one the document gives the operation;
 * - bodies are Python's `json.dumps` of the data (`", "` and `": "` between items, non-ASCII escaped);
 * - `--endpoint-args a:1,b:2` become query parameters;
 * - a DELETE keeps the path parameter in its query too (`?inum=…`): it looks the name up letter by letter;
 * - a PATCH hands its own request dictionary to `requests` as the query parameters, so the query names
 *   the URL, the header names, the `verify` flag, the dictionary's keys and the keys of each operation;
 * - `--patch-replace k:v` and `--patch-add k:v` send `[{"op", "path": "/k", "value": "v"}]` (the value is
 *   always text), `--patch-remove k` sends `[{"op": "remove", "path": "/k"}]`, and `--data FILE` sends the
 *   file's list with a `/` put before each path that lacks one and `_file <path>` values read from files.
 * Here the served document is the command line's operation data, as a user who points it at this
 * service would have it.
 */
describe('Janssen’s command line, request for request', () => {
  // Janssen's own test body names testAttribute, which is not in the person schema here.
  const { app, cleanup } = useTestApp({ env: { SCHEMA_CHECK: 'false' } });
  let paths: Map<string, { method: string; path: string; contentType?: string }>;
  const created: string[] = [];

  before(async () => {
    cleanup(async () => {
      for (const inum of created) await call(app, 'DELETE', `/attributes/${inum}`, { token: app.adminToken });
    });
    const document = (await (await fetch(`${app.service.url}/jans-config-api/openapi.json`)).json()) as {
      paths: Record<
        string,
        Record<string, { operationId?: string; requestBody?: { content: Record<string, unknown> } }>
      >;
    };
    paths = new Map();
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        if (!operation.operationId) continue;
        const contentType = Object.keys(operation.requestBody?.content ?? {})[0];
        paths.set(operation.operationId, { method: method.toUpperCase(), path, contentType });
      }
    }
  });

  /** Python's json.dumps with its default separators and ASCII escapes. */
  const pythonJson = (value: unknown): string => {
    if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
    if (value !== null && typeof value === 'object') {
      const items = Object.entries(value).map(([k, v]) => `${pythonJson(k)}: ${pythonJson(v)}`);
      return `{${items.join(', ')}}`;
    }
    return JSON.stringify(value).replace(
      /[\u007f-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  };

  /** The URL the command line makes for an operation: host, /jans-config-api, the document's path. */
  const urlOf = (operationId: string, inum?: string) => {
    const found = paths.get(operationId);
    expect(found, operationId).to.not.equal(undefined);
    const path = (found?.path ?? '').replace('{inum}', inum ?? '');
    return `${app.service.url}/jans-config-api${path}`;
  };

  /** One request as the command line sends it, with its answer checked against both contracts. */
  const send = async (
    operationId: string,
    url: string,
    data?: unknown,
  ): Promise<Reply & { contentType: string | null }> => {
    const { method, contentType } = paths.get(operationId) ?? { method: '' };
    const headers: Record<string, string> = {
      'user-agent': 'python-requests/2.32.3',
      'accept-encoding': 'gzip, deflate',
      accept: 'application/json',
      'jans-client': 'jans-tui',
      authorization: `Bearer ${app.adminToken}`,
    };
    if (data !== undefined && contentType) headers['content-type'] = contentType;
    const response = await fetch(url, {
      method,
      headers,
      body: data === undefined ? undefined : pythonJson(data),
    });
    const text = await response.text();
    const reply = {
      status: response.status,
      headers: response.headers,
      body: text ? JSON.parse(text) : undefined,
      contentType: response.headers.get('content-type'),
    };
    await assertMatchesContract(method, new URL(url).pathname, reply);
    return reply;
  };

  /** The query of the command line's PATCH: its own request dictionary, encoded by requests. */
  const patchQuery = (url: string, operations: Record<string, unknown>[]) => {
    const query = new URLSearchParams({ url });
    for (const header of ['Authorization', 'Accept', 'Content-Type']) query.append('headers', header);
    query.append('verify', 'False');
    for (const key of ['url', 'headers', 'verify', 'cert', 'params', 'json']) query.append('params', key);
    for (const operation of operations) for (const key of Object.keys(operation)) query.append('json', key);
    return query.toString();
  };
  const patch = async (inum: string, operations: Record<string, unknown>[]) => {
    const url = urlOf('patch-attributes-by-inum', inum);
    return send('patch-attributes-by-inum', `${url}?${patchQuery(url, operations)}`, operations);
  };
  /** `--patch-replace` / `--patch-add key:value`, `--patch-remove key`. */
  const patchArg = (op: 'add' | 'replace' | 'remove', arg: string) => {
    if (op === 'remove') return [{ op, path: `/${arg.replace(/^\/+/, '')}` }];
    const [key = '', value = ''] = arg.split(':');
    return [{ op, path: `/${key.replace(/^\/+/, '')}`, value }];
  };

  /** `--operation-id post-attributes --data FILE` with Janssen's own test body under a new name. */
  const post = async () => {
    const body = JSON.parse(
      readFileSync(new URL('../fixtures/janssen/post-body.json', import.meta.url), 'utf8'),
    ) as Record<string, unknown>;
    const reply = await send('post-attributes', urlOf('post-attributes'), {
      ...body,
      name: uniqueName('cli'),
    });
    expect(reply.status, JSON.stringify(reply.body)).to.equal(201);
    created.push(reply.body.inum);
    return reply.body as Record<string, unknown> & { inum: string };
  };

  it('lists with every parameter of get-attributes given as --endpoint-args', async () => {
    // --endpoint-args "limit:5,pattern:edu,status:inactive,startIndex:1,sortBy:displayName,
    //                  sortOrder:descending,fieldValuePair:userCanView=false"
    const args = new URLSearchParams({
      limit: '5',
      pattern: 'edu',
      status: 'inactive',
      startIndex: '1',
      sortBy: 'displayName',
      sortOrder: 'descending',
      fieldValuePair: 'userCanView=false',
    });
    const reply = await send('get-attributes', `${urlOf('get-attributes')}?${args}`);
    expect(reply.status).to.equal(200);
    expect(reply.contentType, 'what the command line pretty-prints').to.equal('application/json');
    expect(reply.body).to.include({ start: 1, totalEntriesCount: 14, entriesCount: 5 });
    const names = reply.body.entries.map((e: { displayName: string }) => e.displayName.toLowerCase());
    expect(names).to.deep.equal([...names].sort().reverse());
  });

  it('reads one definition (--url-suffix inum:08E2)', async () => {
    const reply = await send('get-attributes-by-inum', urlOf('get-attributes-by-inum', '08E2'));
    expect(reply.status).to.equal(200);
    expect(reply.contentType).to.equal('application/json');
    expect(reply.body).to.include({ inum: '08E2', name: 'departmentNumber' });
  });

  it('creates from a file and replaces from a file', async () => {
    const stored = await post();
    expect(stored).to.include({ dataType: 'string', status: 'active', jansHideOnDiscovery: true });
    expect(stored.editType).to.deep.equal(['admin', 'user']);
    const replaced = await send('put-attributes', urlOf('put-attributes'), {
      ...stored,
      displayName: 'Replaced by the CLI',
    });
    expect(replaced.status).to.equal(200);
    expect(replaced.body).to.include({ inum: stored.inum, displayName: 'Replaced by the CLI' });
  });

  it('patches with --patch-replace, --patch-add and --patch-remove, its junk query parameters ignored', async () => {
    const { inum } = await post();
    const shapes = [
      patchArg('replace', 'displayName:Patched by the CLI'),
      patchArg('add', 'tooltip:Shown on hover'),
      patchArg('replace', 'jansHideOnDiscovery:false'),
    ];
    for (const operations of shapes) {
      expect(upstreamPatchBodyViolations(operations), 'a PatchRequest list').to.deep.equal([]);
      const reply = await patch(inum, operations);
      expect(reply.status, JSON.stringify(reply.body)).to.equal(200);
    }
    const patched = (await send('get-attributes-by-inum', urlOf('get-attributes-by-inum', inum))).body;
    expect(patched).to.include({
      displayName: 'Patched by the CLI',
      tooltip: 'Shown on hover',
      jansHideOnDiscovery: false,
    });

    const removal = patchArg('remove', 'tooltip');
    expect(upstreamPatchBodyViolations(removal)).to.deep.equal([]);
    const removed = await patch(inum, removal);
    expect(removed.status).to.equal(200);
    expect(removed.body).to.not.have.property('tooltip');
  });

  it('patches from a file (--data), its paths given a leading / and _file values read in', async () => {
    const { inum } = await post();
    // The file: [{"op": "replace", "path": "description", "value": "_file desc.txt"},
    //            {"op": "add", "path": "/viewType/-", "value": "whitePages"}]; desc.txt holds "From a file".
    const reply = await patch(inum, [
      { op: 'replace', path: '/description', value: 'From a file' },
      { op: 'add', path: '/viewType/-', value: 'whitePages' },
    ]);
    expect(reply.status, JSON.stringify(reply.body)).to.equal(200);
    expect(reply.body).to.include({ description: 'From a file', whitePagesCanView: true });
  });

  it('deletes with the inum in the path and again as ?inum=', async () => {
    const { inum } = await post();
    const url = urlOf('delete-attributes-by-inum', inum);
    const reply = await send('delete-attributes-by-inum', `${url}?${new URLSearchParams({ inum })}`);
    expect(reply.status).to.equal(204);
    created.splice(created.indexOf(inum), 1);
    expect((await send('get-attributes-by-inum', urlOf('get-attributes-by-inum', inum))).status).to.equal(
      404,
    );
  });
});
