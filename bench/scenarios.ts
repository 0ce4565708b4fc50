import { randomUUID } from 'node:crypto';
import {
  AndFilter,
  Attribute,
  Change,
  EqualityFilter,
  OrFilter,
  SubstringFilter,
  type Entry,
  type Filter,
} from 'ldapts';
import type { ApiRequests } from './api-load.js';
import type { Timed } from './raw-load.js';

export const CONTAINER = 'ou=attributes,o=jans';
/** What the service asks for on every read. */
export const READ_ATTRIBUTES = ['*', 'entryCSN'];
export const PAGE = 50;

const IS_DEFINITION = new EqualityFilter({ attribute: 'objectClass', value: 'jansAttr' });

/** `pattern=<token>`: the service's filter, built the same way (name, displayName, description, inum). */
export function patternFilter(token: string): Filter {
  return new AndFilter({
    filters: [
      IS_DEFINITION,
      new OrFilter({
        filters: ['jansAttrName', 'displayName', 'description', 'inum'].map(
          (attribute) => new SubstringFilter({ attribute, any: [token] }),
        ),
      }),
    ],
  });
}

/** The fieldValuePair of the benchmark, `dataType=numeric,status=inactive`, as an LDAP filter. */
export const FIELD_VALUE_PAIR = 'dataType=numeric,status=inactive';
export function fieldValueFilter(): Filter {
  return new AndFilter({
    filters: [
      IS_DEFINITION,
      new AndFilter({
        filters: [
          new EqualityFilter({ attribute: 'jansAttrTyp', value: 'numeric' }),
          new EqualityFilter({ attribute: 'jansStatus', value: 'inactive' }),
        ],
      }),
    ],
  });
}

function text(value: Entry[string] | undefined): string {
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? '' : Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
}

/**
 * The service's order (sortAndPage): the field ignoring case, then the inum, both reversed for
 * descending; then the page is cut.
 */
export function sortedPage(entries: Entry[], startIndex: number, limit: number): Entry[] {
  const keyed = entries.map((e) => ({
    e,
    key: text(e.displayName).toLowerCase(),
    inum: text(e.inum).toLowerCase(),
  }));
  keyed.sort((a, b) => {
    const byKey = a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
    if (byKey !== 0) return -byKey;
    return -(a.inum < b.inum ? -1 : a.inum > b.inum ? 1 : 0);
  });
  return keyed.slice(startIndex, startIndex + limit).map((k) => k.e);
}

export interface ScenarioContext {
  /** API root URL. */
  api: string;
  token: string;
  inums: string[];
  /** The definition PATCH and raw modify change. */
  patchTarget: string;
  patternToken: string;
  /** startIndex of the deep sorted page: the last page of the pattern's result. */
  deepStart: number;
  /** Unique per run, so names created by POST never collide with an earlier run's leftovers. */
  runId: string;
}

export interface Scenario {
  id: string;
  title: string;
  /** What the API side sends. */
  api(ctx: ScenarioContext): ApiRequests;
  /** What the raw side does per iteration (every LDAP call is timed separately). */
  raw(ctx: ScenarioContext): (timed: Timed, worker: number) => Promise<void>;
}

function pickInum(inums: string[]): string {
  return inums[Math.floor(Math.random() * inums.length)] as string;
}

function definitionBody(name: string): Record<string, unknown> {
  return {
    name,
    displayName: `Bench ${name}`,
    description: 'Created by the benchmark and deleted right after.',
    dataType: 'string',
    status: 'active',
    editType: ['admin'],
    viewType: ['admin', 'user'],
    claimName: name.toLowerCase(),
    origin: 'jansCustomPerson',
  };
}

export const SCENARIOS: Scenario[] = [
  {
    id: 'get',
    title: 'GET by inum (random)',
    api: (ctx) => [
      {
        method: 'GET',
        headers: { authorization: `Bearer ${ctx.token}` },
        setupRequest: (request) => ({
          ...request,
          path: `${pathOf(ctx.api)}/attributes/${pickInum(ctx.inums)}`,
        }),
      },
    ],
    raw: (ctx) => async (timed) => {
      const dn = `inum=${pickInum(ctx.inums)},${CONTAINER}`;
      await timed((c) => c.search(dn, { scope: 'base', filter: IS_DEFINITION, attributes: READ_ATTRIBUTES }));
    },
  },
  {
    id: 'pattern',
    title: 'list pattern, limit 50',
    api: (ctx) => [
      {
        method: 'GET',
        path: `${pathOf(ctx.api)}/attributes?pattern=${ctx.patternToken}&limit=${PAGE}`,
        headers: { authorization: `Bearer ${ctx.token}` },
      },
    ],
    raw: (ctx) => {
      const filter = patternFilter(ctx.patternToken);
      return async (timed) => {
        await timed((c) =>
          c.search(CONTAINER, { scope: 'one', filter, attributes: READ_ATTRIBUTES, sizeLimit: PAGE }),
        );
      };
    },
  },
  {
    id: 'sorted',
    title: 'list pattern, sorted displayName desc, last page',
    api: (ctx) => [
      {
        method: 'GET',
        path:
          `${pathOf(ctx.api)}/attributes?pattern=${ctx.patternToken}&sortBy=displayName` +
          `&sortOrder=descending&startIndex=${ctx.deepStart}&limit=${PAGE}`,
        headers: { authorization: `Bearer ${ctx.token}` },
      },
    ],
    raw: (ctx) => {
      const filter = patternFilter(ctx.patternToken);
      return async (timed) => {
        // slapd has no server-side sort here (the sssvlv overlay is not configured): fetch the whole
        // result, as the service does, and sort it in the client. In one search, not paged: slapd keeps
        // one paged search per connection and refuses the cookie of an earlier one that is still
        // running ("paged results cookie is invalid"), and 32 searches share 4 connections. The bind
        // DN is the database's root DN, to which no size limit applies.
        const { searchEntries } = await timed((c) =>
          c.search(CONTAINER, { scope: 'one', filter, attributes: READ_ATTRIBUTES }),
        );
        sortedPage(searchEntries, ctx.deepStart, PAGE);
      };
    },
  },
  {
    id: 'fieldValuePair',
    title: `list fieldValuePair ${FIELD_VALUE_PAIR}, limit 50`,
    api: (ctx) => [
      {
        method: 'GET',
        path: `${pathOf(ctx.api)}/attributes?fieldValuePair=${encodeURIComponent(FIELD_VALUE_PAIR)}&limit=${PAGE}`,
        headers: { authorization: `Bearer ${ctx.token}` },
      },
    ],
    raw: () => {
      const filter = fieldValueFilter();
      return async (timed) => {
        await timed((c) =>
          c.search(CONTAINER, { scope: 'one', filter, attributes: READ_ATTRIBUTES, sizeLimit: PAGE }),
        );
      };
    },
  },
  {
    id: 'postDelete',
    title: 'POST then DELETE (each counts)',
    api: (ctx) => {
      const headers = { authorization: `Bearer ${ctx.token}`, 'content-type': 'application/json' };
      return [
        {
          method: 'POST',
          path: `${pathOf(ctx.api)}/attributes`,
          headers,
          setupRequest: (request) => ({
            ...request,
            body: JSON.stringify(definitionBody(`b${ctx.runId}_${(counter++).toString(36)}`)),
          }),
          onResponse: (status, body, context) => {
            (context as { inum?: string }).inum =
              status === 201 ? (JSON.parse(body) as { inum: string }).inum : undefined;
          },
        },
        {
          method: 'DELETE',
          headers: { authorization: `Bearer ${ctx.token}` },
          // Without a created inum there is nothing to delete: start over with a POST.
          setupRequest: (request, context) => {
            const inum = (context as { inum?: string }).inum;
            return inum
              ? { ...request, path: `${pathOf(ctx.api)}/attributes/${inum}` }
              : (undefined as never);
          },
        },
      ];
    },
    raw: (ctx) => {
      return async (timed) => {
        const inum = randomUUID();
        const name = `r${ctx.runId}_${(counter++).toString(36)}`;
        const dn = `inum=${inum},${CONTAINER}`;
        await timed((c) =>
          c.add(dn, {
            objectClass: ['top', 'jansAttr'],
            inum,
            jansAttrName: name,
            displayName: `Bench ${name}`,
            description: 'Created by the benchmark and deleted right after.',
            jansAttrTyp: 'string',
            jansStatus: 'active',
            jansAttrEditTyp: 'admin',
            jansAttrViewTyp: ['admin', 'user'],
            jansClaimName: name.toLowerCase(),
            jansAttrOrigin: 'jansCustomPerson',
          }),
        );
        await timed((c) => c.del(dn));
      };
    },
  },
  {
    id: 'patch',
    title: 'PATCH replace /displayName (one definition)',
    api: (ctx) => {
      return [
        {
          method: 'PATCH',
          path: `${pathOf(ctx.api)}/attributes/${ctx.patchTarget}`,
          headers: { authorization: `Bearer ${ctx.token}`, 'content-type': 'application/json-patch+json' },
          setupRequest: (request) => ({
            ...request,
            body: JSON.stringify([{ op: 'replace', path: '/displayName', value: `Patched ${counter++}` }]),
          }),
        },
      ];
    },
    raw: (ctx) => {
      const dn = `inum=${ctx.patchTarget},${CONTAINER}`;
      return async (timed) => {
        const change = new Change({
          operation: 'replace',
          modification: new Attribute({ type: 'displayName', values: [`Modified ${counter++}`] }),
        });
        await timed((c) => c.modify(dn, change));
      };
    },
  },
  {
    id: 'patchAny',
    title: 'PATCH replace /displayName (random definition)',
    api: (ctx) => [
      {
        method: 'PATCH',
        headers: { authorization: `Bearer ${ctx.token}`, 'content-type': 'application/json-patch+json' },
        setupRequest: (request) => ({
          ...request,
          path: `${pathOf(ctx.api)}/attributes/${pickInum(ctx.inums)}`,
          body: JSON.stringify([{ op: 'replace', path: '/displayName', value: `Patched ${counter++}` }]),
        }),
      },
    ],
    raw: (ctx) => async (timed) => {
      const change = new Change({
        operation: 'replace',
        modification: new Attribute({ type: 'displayName', values: [`Modified ${counter++}`] }),
      });
      await timed((c) => c.modify(`inum=${pickInum(ctx.inums)},${CONTAINER}`, change));
    },
  },
];

/**
 * Numbers names and values across every call of a run (warm-up and measured runs share it), so a name
 * that a POST created and the end of a run left undeleted is never posted again.
 */
let counter = 0;

/** The path part of the API root (autocannon takes the origin from `url`). */
function pathOf(api: string): string {
  return new URL(api).pathname;
}
