#!/usr/bin/env node
/**
 * jans-attrs: the attribute registry from the command line. Every command but `token` and `seed` talks
 * to the HTTP API through AttributesClient, like any other client.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import {
  ApiError,
  AttributesClient,
  type JansAttribute,
  type JansAttributeInput,
  type ListParams,
  type PatchOperation,
} from '../client/index.js';
import { differences, parseDefinitions, UsageError } from './attrs/definitions.js';
import { toLdif } from './attrs/ldif.js';
import { attributeDetails, attributeTable, conflictTable, historyTable } from './attrs/output.js';
import { progressBar } from './attrs/progress.js';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

interface Context {
  values: Values;
  positionals: string[];
  /** A client for --url and --token; asking for it without a token is a usage error. */
  client(): AttributesClient;
}

interface Command {
  /** Arguments after the command name, for the usage line. */
  usage: string;
  summary: string;
  /** Option descriptions and notes for --help. */
  help?: string;
  options?: Options;
  /** Names of the positional arguments, all required. */
  args?: string[];
  run(ctx: Context): Promise<void>;
}

const DEFAULT_URL = 'http://127.0.0.1:8080';
const GLOBAL_OPTIONS: Options = {
  url: { type: 'string' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};
const JSON_OPTION: Options = { json: { type: 'boolean' } };
const IF_MATCH: Options = { 'if-match': { type: 'string' } };
const FILE: Options = { file: { type: 'string', short: 'f' } };

const out = (text: string): void => void process.stdout.write(text);
const json = (value: unknown) => out(`${JSON.stringify(value, null, 2)}\n`);
const str = (v: Values[string]) => (typeof v === 'string' ? v : undefined);

function int(value: Values[string], option: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d+$/.test(value))
    throw new UsageError(`${option} must be a whole number, 0 or more`);
  return Number(value);
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
}

async function readJson(file: string): Promise<unknown> {
  const text = await readText(file);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${file}: invalid JSON: ${(error as Error).message}`);
  }
}

function requireFile(values: Values): string {
  const file = str(values.file);
  if (!file) throw new UsageError('give the input file with -f FILE');
  return file;
}

async function readObject(file: string): Promise<Record<string, unknown>> {
  const body = await readJson(file);
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new UsageError(`${file}: expected one definition (a JSON object)`);
  return body as Record<string, unknown>;
}

function showAttribute(values: Values, attribute: JansAttribute, etag: string): void {
  if (values.json) json(attribute);
  else out(attributeDetails(attribute, etag));
}

/** Runs another of the project's command-line programs (same Node options, so tsx carries over). */
function delegate(script: string, args: string[]): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const path = fileURLToPath(new URL(`./${script}${extname(self)}`, import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, path, ...args], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      process.exitCode = code ?? (signal ? 1 : 0);
      resolve();
    });
  });
}

const COMMANDS: Record<string, Command> = {
  list: {
    usage:
      '[--pattern TEXT] [--status all|active|inactive] [--filter FIELD=VALUE,...] [--sort FIELD] ' +
      '[--order asc|desc] [--limit N] [--start N] [--all] [--json]',
    summary: 'List attribute definitions (a table of inum, name, displayName, dataType, status, claimName).',
    help: `Options:
  --pattern TEXT     comma-separated search tokens (name, displayName, description or inum contains one)
  --status STATUS    all (default), active or inactive
  --filter F=V,...   field=value conditions that must all hold, e.g. dataType=string,adminCanEdit=true
  --sort FIELD       sort by this JSON field (default inum), over the whole result
  --order asc|desc   sort order (default asc)
  --limit N          page size (the service's default is 50); with --all, the size of each request
  --start N          zero-based index of the first definition
  --all              every matching definition, fetched page by page
  --json             the service's JSON: the page object, or with --all an array of definitions`,
    options: {
      pattern: { type: 'string' },
      status: { type: 'string' },
      filter: { type: 'string', multiple: true },
      sort: { type: 'string' },
      order: { type: 'string' },
      limit: { type: 'string' },
      start: { type: 'string' },
      all: { type: 'boolean' },
      ...JSON_OPTION,
    },
    async run({ values, client }) {
      const order = str(values.order);
      if (order !== undefined && !/^(asc|desc)(ending)?$/i.test(order))
        throw new UsageError('--order must be asc or desc');
      const filters = (values.filter as string[] | undefined) ?? [];
      const params: ListParams = {
        pattern: str(values.pattern),
        status: str(values.status),
        fieldValuePair: filters.length ? filters.join(',') : undefined,
        sortBy: str(values.sort),
        sortOrder: order && (/^asc/i.test(order) ? 'ascending' : 'descending'),
        limit: int(values.limit, '--limit'),
        startIndex: int(values.start, '--start'),
      };
      if (values.all) {
        const all: JansAttribute[] = [];
        for await (const attribute of client().listAll(params)) all.push(attribute);
        if (values.json) json(all);
        else out(attributeTable(all));
        return;
      }
      const page = await client().list(params);
      if (values.json) return void json(page);
      out(attributeTable(page.entries ?? []));
      if (page.start + page.entriesCount < page.totalEntriesCount || page.start > 0) {
        const last = page.start + page.entriesCount;
        process.stderr.write(
          `(${page.entriesCount ? `${page.start + 1}-${last}` : 'none'} of ${page.totalEntriesCount}; --all for every one)\n`,
        );
      }
    },
  },
  get: {
    usage: '<inum> [--json]',
    summary: 'Show one definition and its ETag.',
    help: `Options:
  --json             the definition as the service returns it (without the ETag)`,
    options: JSON_OPTION,
    args: ['inum'],
    async run({ values, positionals: [inum = ''], client }) {
      const result = await client().get(inum);
      if (!result.notModified) showAttribute(values, result.attribute, result.etag);
    },
  },
  create: {
    usage: '-f FILE [--json]',
    summary: 'Create a definition from a JSON file (the service assigns the inum).',
    help: `Options:
  -f FILE            the definition, a JSON object (name, displayName, description, dataType, editType
                     and viewType are required)
  --json             print the stored definition as JSON`,
    options: { ...FILE, ...JSON_OPTION },
    async run({ values, client }) {
      const body = await readObject(requireFile(values));
      const { attribute, etag } = await client().create(body as JansAttributeInput);
      showAttribute(values, attribute, etag);
    },
  },
  replace: {
    usage: '-f FILE [--if-match ETAG] [--json]',
    summary: 'Replace the definition named by the inum in a JSON file; fields left out are removed.',
    help: `Options:
  -f FILE            the definition, a JSON object with its inum
  --if-match ETAG    replace only while the definition still has this ETag (else 412)
  --json             print the stored definition as JSON`,
    options: { ...FILE, ...IF_MATCH, ...JSON_OPTION },
    async run({ values, client }) {
      const body = await readObject(requireFile(values));
      const { attribute, etag } = await client().replace(body as JansAttributeInput, {
        ifMatch: str(values['if-match']),
      });
      showAttribute(values, attribute, etag);
    },
  },
  patch: {
    usage: "<inum> (--op '<JSON operation>' ... | -f PATCH.json) [--if-match ETAG] [--json]",
    summary: 'Change a definition with RFC 6902 JSON Patch operations.',
    help: `Options:
  --op JSON          one operation, e.g. '{"op":"replace","path":"/displayName","value":"Given name"}'
                     (repeatable; a JSON array of operations works too)
  -f FILE            a file with a JSON array of operations
  --if-match ETAG    apply only while the definition still has this ETag (else 412)
  --json             print the stored definition as JSON`,
    options: { op: { type: 'string', multiple: true }, ...FILE, ...IF_MATCH, ...JSON_OPTION },
    args: ['inum'],
    async run({ values, positionals: [inum = ''], client }) {
      const ops = (values.op as string[] | undefined) ?? [];
      const file = str(values.file);
      if (ops.length > 0 === Boolean(file)) throw new UsageError('give either --op (one or more) or -f FILE');
      const parsed: unknown[] = file
        ? [await readJson(file)]
        : ops.map((op) => {
            try {
              return JSON.parse(op) as unknown;
            } catch {
              throw new UsageError(`--op is not JSON: ${op}`);
            }
          });
      const operations = parsed.flat() as PatchOperation[];
      const { attribute, etag } = await client().patch(inum, operations, {
        ifMatch: str(values['if-match']),
      });
      showAttribute(values, attribute, etag);
    },
  },
  delete: {
    usage: '<inum> [--if-match ETAG]',
    summary: 'Delete a definition.',
    help: `Options:
  --if-match ETAG    delete only while the definition still has this ETag (else 412)`,
    options: IF_MATCH,
    args: ['inum'],
    async run({ values, positionals: [inum = ''], client }) {
      await client().delete(inum, { ifMatch: str(values['if-match']) });
      out(`deleted ${inum}\n`);
    },
  },
  history: {
    usage: '<inum> [--scope | --user | --session] [--limit N] [--start N] [--json]',
    summary: 'Show who changed a definition, a scope or values, when and how (newest first).',
    help: `Every write, allowed or refused, with its status; "changed" lists the fields a change touched, or
for values the attributes a write named (never their values).

Options:
  --scope            the argument is a scope's inum: its patches
  --user             the argument is a user's inum: writes of its values (a user-attributes scope)
  --session          the argument is a session's id: writes of its values (a session-attributes scope)
  --limit N          page size (default 50)
  --start N          zero-based index of the first event
  --json             the service's JSON page, with each change as a JSON Patch`,
    options: {
      scope: { type: 'boolean' },
      user: { type: 'boolean' },
      session: { type: 'boolean' },
      limit: { type: 'string' },
      start: { type: 'string' },
      ...JSON_OPTION,
    },
    args: ['inum'],
    async run({ values, positionals: [id = ''], client }) {
      const kinds = (['scope', 'user', 'session'] as const).filter((k) => values[k]);
      if (kinds.length > 1) throw new UsageError('give at most one of --scope, --user and --session');
      const params = { limit: int(values.limit, '--limit'), startIndex: int(values.start, '--start') };
      const api = client();
      const page = await (kinds[0] === 'scope'
        ? api.scopeHistory(id, params)
        : kinds[0] === 'user'
          ? api.userValues(id).history(params)
          : kinds[0] === 'session'
            ? api.sessionValues(id).history(params)
            : api.history(id, params));
      if (values.json) json(page);
      else out(historyTable(page.entries ?? []));
    },
  },
  conflicts: {
    usage: '[--json]',
    summary: 'List the definitions that replication left sharing a name or an active claim name.',
    help: `Two writes made at the same moment through different directory providers can both succeed. Each
line is one conflict: the name or claim name, and the definitions that hold it. Rename, deactivate or
delete all but one (a write that would keep the conflict is refused). Exit status 0 whether or not
there are any.

Options:
  --json             the service's JSON answer`,
    options: { ...JSON_OPTION },
    async run({ values, client }) {
      const conflicts = await client().conflicts();
      if (values.json) json(conflicts);
      else if (conflicts.length === 0) out('no conflicts\n');
      else out(conflictTable(conflicts));
    },
  },
  export: {
    usage: '[--format json|ldif] [-o FILE]',
    summary: 'Write every definition as JSON (an array) or as LDIF with Janssen’s LDAP names.',
    help: `LDIF entries are jansAttr entries as Janssen stores them (loadable with "jans-attrs seed");
booleans are TRUE/FALSE, and values that RFC 2849 does not allow as text are base64 (::).

Options:
  --format FORMAT    json (default) or ldif
  -o FILE            write to this file instead of standard output`,
    options: { format: { type: 'string', default: 'json' }, output: { type: 'string', short: 'o' } },
    async run({ values, client }) {
      const format = str(values.format);
      if (format !== 'json' && format !== 'ldif') throw new UsageError('--format must be json or ldif');
      const all: JansAttribute[] = [];
      for await (const attribute of client().listAll()) all.push(attribute);
      const text = format === 'ldif' ? toLdif(all) : `${JSON.stringify(all, null, 2)}\n`;
      const file = str(values.output);
      if (!file) return void out(text);
      await writeFile(file, text);
      process.stderr.write(`exported ${all.length} definitions to ${file}\n`);
    },
  },
  import: {
    usage: '-f FILE [--format json|ldif] [--update] [--dry-run]',
    summary: 'Add the definitions of a file that the registry lacks (matched by name, ignoring case).',
    help: `A definition whose name is new is created; one that matches a stored definition is reported as
unchanged or as different (with the fields that differ) and left alone, unless --update replaces it
(PUT: fields it leaves out are removed, a missing urn is kept). Inums in the file are not kept: the
service assigns its own. Ends with "added N, unchanged M, different K".

Options:
  -f FILE            a JSON array of definitions (as export writes) or LDIF with jansAttr entries
  --format FORMAT    json or ldif (default: from the file's first character)
  --update           replace the definitions that differ
  --dry-run          report what would happen, write nothing`,
    options: {
      ...FILE,
      format: { type: 'string' },
      update: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
    },
    async run({ values, client }) {
      const file = requireFile(values);
      const format = str(values.format);
      if (format !== undefined && format !== 'json' && format !== 'ldif')
        throw new UsageError('--format must be json or ldif');
      const { definitions, skipped } = parseDefinitions(await readText(file), file, format);
      if (skipped) process.stderr.write(`skipped ${skipped} entries that are not jansAttr definitions\n`);
      await importDefinitions(client(), definitions, Boolean(values.update), Boolean(values['dry-run']));
    },
  },
  token: {
    usage: '[--scope "<scopes>"] [--sub SUBJECT] [--expires-in 1h]',
    summary: 'Print a development token signed with the key in DATA_DIR (as npm run token does).',
    help: `Runs src/cli/token.ts. Without --scope the token carries every attribute scope.`,
    options: { scope: { type: 'string' }, sub: { type: 'string' }, 'expires-in': { type: 'string' } },
    run: ({ values }) => delegate('token', forward(values, ['scope', 'sub', 'expires-in'])),
  },
  seed: {
    usage: '[--ldif FILE ...]',
    summary: 'Load LDIF into the directory, adding only what is missing (as npm run seed does).',
    help: `Runs src/cli/seed.ts, which talks LDAP, not HTTP: it uses LDAP_URL, LDAP_BIND_DN and
LDAP_BIND_PASSWORD, or the embedded directory in DATA_DIR. Default files: ldif/base.ldif and
ldif/attributes.ldif.`,
    options: { ldif: { type: 'string', multiple: true } },
    run: ({ values }) => delegate('seed', forward(values, ['ldif'])),
  },
};

/** The given options again as arguments, for a delegated program. */
function forward(values: Values, names: string[]): string[] {
  return names.flatMap((name) => {
    const value = values[name];
    const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
    return list.flatMap((v) => [`--${name}`, String(v)]);
  });
}

async function importDefinitions(
  client: AttributesClient,
  definitions: Awaited<ReturnType<typeof parseDefinitions>>['definitions'],
  update: boolean,
  dryRun: boolean,
): Promise<void> {
  const stored = new Map<string, JansAttribute>();
  for await (const attribute of client.listAll()) stored.set(attribute.name.toLowerCase(), attribute);
  const count = { added: 0, unchanged: 0, different: 0, updated: 0, failed: 0 };
  const seen = new Set<string>();
  const would = dryRun ? 'would be ' : '';
  const progress = process.stderr.isTTY
    ? (i: number) => process.stderr.write(`\r\x1b[Kimporting ${progressBar(i, definitions.length)}`)
    : () => {};
  for (const [i, definition] of definitions.entries()) {
    progress(i + 1);
    const name = definition.name;
    const key = name.toLowerCase();
    const say = (text: string) => {
      if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
      out(`${text}\n`);
    };
    if (seen.has(key)) {
      count.failed++;
      say(`failed ${name}: the name appears more than once in the file`);
      continue;
    }
    seen.add(key);
    try {
      let current = stored.get(key);
      if (!current) {
        const inum = dryRun ? '' : (await client.create(definition)).attribute.inum;
        count.added++;
        say(`${would}added ${name} ${inum}`.trimEnd());
        continue;
      }
      let diff = differences(definition, current);
      let etag: string | undefined;
      if (diff.length > 0 && update && !dryRun) {
        // Compare with the current state and replace exactly that state, so no concurrent change is lost.
        const fresh = await client.get(current.inum);
        if (!fresh.notModified) [current, etag] = [fresh.attribute, fresh.etag];
        diff = differences(definition, current);
      }
      if (diff.length === 0) {
        count.unchanged++;
        continue;
      }
      count.different++;
      if (update) {
        if (!dryRun) await client.replace(replacement(definition, current), { ifMatch: etag });
        count.updated++;
        say(`${would}updated ${name} ${current.inum}: ${diff.join(', ')}`);
      } else say(`different ${name} ${current.inum}: ${diff.join(', ')}`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      count.failed++;
      say(`failed ${name}: ${apiErrorText(error)}`);
    }
  }
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  out(
    `added ${count.added}, unchanged ${count.unchanged}, different ${count.different}` +
      (update ? `, updated ${count.updated}` : '') +
      (count.failed ? `, failed ${count.failed}` : '') +
      (dryRun ? ' (dry run: nothing was written)' : '') +
      '\n',
  );
  if (count.failed) process.exitCode = 1;
}

/**
 * The PUT body that gives a stored definition the content of an imported one. The file's dn and inum
 * may be another directory's, and its name may differ in case only: the stored ones are kept.
 */
function replacement(definition: JansAttributeInput, current: JansAttribute): JansAttributeInput {
  const { dn: _dn, baseDn: _baseDn, ...body } = definition as JansAttributeInput & Record<string, unknown>;
  return { ...body, inum: current.inum, name: current.name };
}

function apiErrorText(error: ApiError): string {
  let text = `${error.status}`;
  if (error.code !== String(error.status)) text += ` ${error.code}`;
  text += ` ${error.message}`;
  if (error.description) text += ` (${error.description})`;
  if (error.status === 412 && error.etag) text += `; current ETag ${error.etag}`;
  if (error.retryAfter !== undefined) text += `; retry after ${error.retryAfter} s`;
  return text;
}

const GLOBAL_HELP = `Global options (before or after the command):
  --url URL          the service (default $JANS_ATTRS_URL or ${DEFAULT_URL})
  --token TOKEN      bearer token (default $JANS_ATTRS_TOKEN); never printed
  -h, --help         help for jans-attrs or for a command

Exit status: 0 done, 1 API or network error, 2 usage error (arguments or input file).`;

function topHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `Usage: jans-attrs <command> [options]

Manages the attribute definitions of a jans-attribute-registry over its HTTP API.

Commands:
${lines.join('\n')}

${GLOBAL_HELP}
Run "jans-attrs <command> --help" for a command's options.
`;
}

function commandHelp(name: string, command: Command): string {
  const args = (command.args ?? []).map((a) => `<${a}> `).join('');
  const usage = command.usage.startsWith('<') ? command.usage : `${args}${command.usage}`;
  return `Usage: jans-attrs ${name} ${usage}\n\n${command.summary}\n\n${command.help ? `${command.help}\n\n` : ''}${GLOBAL_HELP}\n`;
}

async function main(argv: string[]): Promise<void> {
  // Find the command: the first argument that is not a global option or its value.
  const { tokens } = parseArgs({
    args: argv,
    options: GLOBAL_OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const found = tokens.find((t) => t.kind === 'positional');
  const name = found?.kind === 'positional' ? found.value : undefined;
  const rest = found ? argv.filter((_, i) => i !== found.index) : argv;
  if (name === undefined || name === 'help') {
    const topic = name === 'help' ? rest.find((a) => !a.startsWith('-')) : undefined;
    const command = topic === undefined ? undefined : COMMANDS[topic];
    if (command) return void out(commandHelp(topic ?? '', command));
    if (name === 'help' || rest.some((a) => a === '--help' || a === '-h')) return void out(topHelp());
    throw new UsageError('no command given (jans-attrs --help lists them)');
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) throw new UsageError(`unknown command "${name}" (jans-attrs --help lists them)`);
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...GLOBAL_OPTIONS, ...command.options },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError(`${name}: ${(error as Error).message.split(/\.? To specify|\n/)[0]}`);
  }
  const { values, positionals } = parsed;
  if (values.help) return void out(commandHelp(name, command));
  const expected = command.args ?? [];
  if (positionals.length !== expected.length) {
    throw new UsageError(
      positionals.length < expected.length
        ? `${name}: missing <${expected[positionals.length]}>`
        : `${name}: unexpected argument "${positionals[expected.length]}"`,
    );
  }
  const url = str(values.url) ?? process.env.JANS_ATTRS_URL ?? DEFAULT_URL;
  const token = (str(values.token) ?? process.env.JANS_ATTRS_TOKEN ?? '').trim();
  [secret, target] = [token, url];
  await command.run({
    values,
    positionals,
    client() {
      if (!URL.canParse(url)) throw new UsageError(`--url is not a URL: ${url}`);
      if (!token) throw new UsageError('no token: give --token or set JANS_ATTRS_TOKEN');
      // eslint-disable-next-line no-control-regex
      if (/[\0-\x1f\x7f]/.test(token)) throw new UsageError('the token contains control characters');
      return new AttributesClient({ baseUrl: url, token });
    },
  });
}

/** The token, kept out of every message, and the service's URL. */
let [secret, target] = ['', ''];

function errorText(error: unknown): string {
  if (error instanceof ApiError) return apiErrorText(error);
  if (error instanceof TypeError && error.message === 'fetch failed') {
    const cause = error.cause as NodeJS.ErrnoException | undefined;
    return `cannot reach ${target}: ${cause?.code ?? cause?.message ?? 'network error'}`;
  }
  return error instanceof Error ? error.message : String(error);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const text = errorText(error);
  process.stderr.write(`jans-attrs: ${secret ? text.replaceAll(secret, '***') : text}\n`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
});
