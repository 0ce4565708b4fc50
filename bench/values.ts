/**
 * The values API under load: what an identity server does at every sign-in (set a user's or a login
 * session's attributes), against the raw LDAP modify or search that does the same to the same entries.
 * Holders are spread over HOLDERS users and as many sessions, or all on one hot holder, where every
 * write contends; after the hot runs, what the directory holds is compared with what was acknowledged.
 */
import { Attribute, Change, type Client } from 'ldapts';
import type { ApiRequests } from './api-load.js';
import type { RawPool, Timed } from './raw-load.js';

export const HOLDERS = 10_000;
const SUFFIX = 'o=jans';
const userId = (i: number) => `bench-u${i}`;
const sessionId = (i: number) => `bench-s${i}`;
const userDn = (id: string) => `inum=${id},ou=people,${SUFFIX}`;
const sessionDn = (id: string) => `registrySessionId=${id},ou=sessions,${SUFFIX}`;
/** The holders every hot write goes to (the first of each kind). */
const HOT_USER = userId(0);
const HOT_SESSION = sessionId(0);
/** The attributes a `_many` set writes at once. */
const MANY = 5;
/** Attributes a hot holder's writers may take (more than any connection count the benchmark uses). */
const HOT_NAMES = 64;

/** LDIF of the benchmark's users (each with a locale) and one login session per user. */
export function holdersLdif(count = HOLDERS): string {
  const entries: string[] = [];
  for (let i = 0; i < count; i++) {
    const user = userId(i);
    entries.push(
      `dn: ${userDn(user)}\nobjectClass: top\nobjectClass: jansPerson\nobjectClass: jansCustomPerson\n` +
        `inum: ${user}\nuid: ${user}\nlocale: en-US\n`,
      `dn: ${sessionDn(sessionId(i))}\nobjectClass: top\nobjectClass: registrySession\n` +
        `registrySessionId: ${sessionId(i)}\nregistrySessionUser: ${user}\n`,
    );
  }
  return entries.join('\n');
}

/** What the value scenarios write, settled once per size by `prepareValues`. */
export interface ValueContext {
  api: string;
  token: string;
  /** Attribute names a plain string can be set on, for users and for sessions, found by trying each. */
  userNames: string[];
  sessionNames: string[];
  /** Names a hot writer may set, with the shape of value each takes (see `valueOf`). */
  hotNames: { user: HotName[]; session: HotName[] };
  /** What the hot writers sent and had acknowledged in the API's latest run, by attribute name. */
  hot: { user: Map<string, HotState>; session: Map<string, HotState> };
}

interface HotName {
  name: string;
  shape: 'string' | 'list' | 'number';
}

/** One attribute of a hot holder: at most one write of it is in flight at a time. */
interface HotState {
  busy: boolean;
  /** Acknowledged last; in flight now; sent without an answer (the write may have happened). */
  acknowledged?: string;
  inFlight?: string;
  unanswered: Set<string>;
}

interface SchemaProperty {
  type?: string;
  items?: SchemaProperty;
  pattern?: string;
  format?: string;
  readOnly?: boolean;
  maxLength?: number;
}

const shapeOf = (p: SchemaProperty): HotName['shape'] | undefined =>
  p.readOnly || p.pattern || p.format || (p.maxLength ?? 64) < 16
    ? undefined
    : p.type === 'string'
      ? 'string'
      : p.type === 'number' || p.type === 'integer'
        ? 'number'
        : p.type === 'array' && p.items?.type === 'string' && !p.items.pattern && !p.items.format
          ? 'list'
          : undefined;

/** A value of that shape carrying `text` (a number where the attribute is numeric). */
function valueOf(shape: HotName['shape'], text: string): unknown {
  return shape === 'number' ? Number(text) : shape === 'list' ? [text] : text;
}

/**
 * The names an admin can set on a user and on a session, as the directory also accepts them (each tried
 * once on the hot holder): definitions of strings, lists of strings or numbers without a pattern or format.
 * A user's values are LDAP attributes of the person schema, which of the benchmark's definitions only the
 * standard ones (`standardNames`) are: only those are tried for users, so that the set-up does not try
 * every generated definition at 100 000 of them.
 */
export async function prepareValues(
  api: string,
  token: string,
  standardNames: ReadonlySet<string>,
): Promise<ValueContext> {
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const response = await fetch(`${api}/attributes/schema?audience=admin`, { headers });
  if (response.status !== 200) throw new Error(`value schema answered ${response.status}`);
  const schema = (await response.json()) as { properties?: Record<string, SchemaProperty> };
  const candidates = Object.entries(schema.properties ?? {}).flatMap(([name, p]) => {
    const shape = shapeOf(p);
    return shape ? [{ name, shape }] : [];
  });
  const accepted = async (path: string, tried: HotName[]) => {
    const names: HotName[] = [];
    for (const candidate of tried) {
      if (names.length >= HOT_NAMES) break;
      const reply = await fetch(`${api}${path}/${candidate.name}`, {
        method: 'PUT',
        headers,
        body: JSON.stringify({ value: valueOf(candidate.shape, '1') }),
      });
      if (reply.status === 200 || reply.status === 201) names.push(candidate);
    }
    return names;
  };
  const user = await accepted(
    `/users/${HOT_USER}/attributes`,
    candidates.filter((c) => standardNames.has(c.name)),
  );
  const session = await accepted(`/sessions/${HOT_SESSION}/attributes`, candidates);
  const strings = (names: HotName[]) => names.filter((n) => n.shape === 'string').map((n) => n.name);
  const userNames = strings(user);
  const sessionNames = strings(session);
  if (userNames.length < MANY || sessionNames.length < 1)
    throw new Error(
      `too few attributes take a string (${userNames.length} users, ${sessionNames.length} sessions)`,
    );
  return {
    api,
    token,
    userNames,
    sessionNames,
    hotNames: { user, session },
    hot: { user: new Map(), session: new Map() },
  };
}

export interface ValueScenario {
  id: string;
  title: string;
  /** Requests in flight on each side, when fewer than the run's connections. */
  connections?(ctx: ValueContext, connections: number): number;
  api(ctx: ValueContext): ApiRequests;
  raw(ctx: ValueContext): (timed: Timed, worker: number) => Promise<void>;
  /** Right after the last API run: what the directory holds against what it acknowledged (hot holders). */
  check?(ctx: ValueContext, pool: RawPool): Promise<{ name: string; ok: boolean; detail: string }>;
}

let counter = 0;
const pick = (count: number) => Math.floor(Math.random() * count);
const pathOf = (api: string) => new URL(api).pathname;

/**
 * One autocannon request, made afresh each time; `make` and `answered` share a per-request context
 * (autocannon resets it when a connection starts its sequence again).
 */
function request(
  ctx: ValueContext,
  method: 'GET' | 'PUT' | 'POST',
  make: (context: Record<string, unknown>) => { path: string; body?: unknown },
  answered?: (context: Record<string, unknown>, ok: boolean) => void,
): ApiRequests {
  const headers = { authorization: `Bearer ${ctx.token}`, 'content-type': 'application/json' };
  return [
    {
      method,
      headers,
      setupRequest: (req, context) => {
        const { path, body } = make(context as Record<string, unknown>);
        return {
          ...req,
          path: `${pathOf(ctx.api)}${path}`,
          body: body === undefined ? undefined : JSON.stringify(body),
        };
      },
      onResponse: (status, _body, context) =>
        answered?.(context as Record<string, unknown>, status >= 200 && status < 300),
    },
  ];
}

const replace = (type: string, value: string) =>
  new Change({ operation: 'replace', modification: new Attribute({ type, values: [value] }) });

/**
 * Hot holder: every write goes to one user or one session. Each attribute is written by one request at a
 * time (a request takes a free one), so its writes are ordered and what the directory holds at the end
 * must be the last acknowledged value, or the one still in flight, or one sent without an answer.
 * So each side keeps at most as many requests in flight as the holder has such attributes.
 */
function hot(kind: 'user' | 'session'): ValueScenario {
  const base = kind === 'user' ? `/users/${HOT_USER}/attributes` : `/sessions/${HOT_SESSION}/attributes`;
  const dn = kind === 'user' ? userDn(HOT_USER) : sessionDn(HOT_SESSION);
  return {
    id: kind === 'user' ? 'valueSetHot' : 'sessionSetHot',
    title: `${kind} value PUT, one hot ${kind}`,
    connections: (ctx, connections) => Math.min(connections, ctx.hotNames[kind].length),
    api: (ctx) => {
      // Each run starts afresh: the raw side writes the same holder between the API's runs.
      const states = ctx.hot[kind];
      states.clear();
      for (const { name } of ctx.hotNames[kind]) states.set(name, { busy: false, unanswered: new Set() });
      let next = 0;
      const names = ctx.hotNames[kind];
      return request(
        ctx,
        'PUT',
        (context) => {
          let chosen: HotName | undefined;
          for (let i = 0; i < names.length && !chosen; i++) {
            const candidate = names[(next + i) % names.length] as HotName;
            if (!states.get(candidate.name)?.busy) chosen = candidate;
          }
          // None free only when an answer never came (a timeout): share one; each write it has in
          // flight may be the one that stays.
          chosen ??= names[next % names.length] as HotName;
          next++;
          const state = states.get(chosen.name) as HotState;
          const text = String(++counter);
          if (state.inFlight !== undefined) state.unanswered.add(state.inFlight);
          state.busy = true;
          state.inFlight = text;
          context.name = chosen.name;
          context.text = text;
          return {
            path: `${base}/${chosen.name}`,
            body: { value: valueOf(chosen.shape, text), ...(kind === 'session' ? { expiresIn: 3600 } : {}) },
          };
        },
        (context, ok) => {
          const state = states.get(context.name as string) as HotState;
          if (state.inFlight !== context.text) return;
          if (ok) {
            state.acknowledged = context.text as string;
            state.unanswered.clear();
          } else state.unanswered.add(context.text as string);
          state.busy = false;
          state.inFlight = undefined;
        },
      );
    },
    raw: (ctx) => async (timed, worker) => {
      const { name } = ctx.hotNames[kind][worker % ctx.hotNames[kind].length] as HotName;
      const text = String(++counter);
      const change =
        kind === 'user'
          ? replace(name, text)
          : replace('registrySessionValue', JSON.stringify({ name, values: [text] }));
      await timed((c) => c.modify(dn, change));
    },
    check: async (ctx, pool) => {
      const stored = await storedValues(pool.client(), kind, dn);
      let lost = 0;
      let written = 0;
      for (const [name, state] of ctx.hot[kind]) {
        if (state.acknowledged === undefined) continue;
        written++;
        const value = stored.get(name);
        const possible = [state.acknowledged, state.inFlight, ...state.unanswered];
        if (value === undefined || !possible.includes(value)) lost++;
      }
      return {
        name: `${kind} hot holder: no acknowledged value lost`,
        ok: lost === 0 && written > 0,
        detail: `${lost} of ${written} attributes hold an older value than the last one acknowledged`,
      };
    },
  };
}

/** What the directory holds for each attribute of a hot holder (session values are JSON lines). */
async function storedValues(
  client: Client,
  kind: 'user' | 'session',
  dn: string,
): Promise<Map<string, string>> {
  const { searchEntries } = await client.search(dn, { scope: 'base', attributes: ['*'] });
  const entry: Record<string, unknown> = searchEntries[0] ?? {};
  const values = new Map<string, string>();
  if (kind === 'user') {
    for (const [name, value] of Object.entries(entry))
      values.set(name, String(Array.isArray(value) ? value[0] : value));
    return values;
  }
  const lines = entry.registrySessionValue ?? [];
  for (const line of Array.isArray(lines) ? lines : [lines]) {
    const parsed = JSON.parse(String(line)) as { name: string; values: string[] };
    values.set(parsed.name, parsed.values[0] ?? '');
  }
  return values;
}

export const VALUE_SCENARIOS: ValueScenario[] = [
  {
    id: 'valueGet',
    title: 'user value GET (10 000 users)',
    api: (ctx) => request(ctx, 'GET', () => ({ path: `/users/${userId(pick(HOLDERS))}/attributes/locale` })),
    raw: () => async (timed) => {
      await timed((c) => c.search(userDn(userId(pick(HOLDERS))), { scope: 'base', attributes: ['locale'] }));
    },
  },
  {
    id: 'valueSet',
    title: 'user value PUT (10 000 users)',
    api: (ctx) =>
      request(ctx, 'PUT', () => ({
        path: `/users/${userId(pick(HOLDERS))}/attributes/locale`,
        body: { value: `de-${counter++ % 100}` },
      })),
    raw: () => async (timed) => {
      await timed((c) => c.modify(userDn(userId(pick(HOLDERS))), replace('locale', `de-${counter++ % 100}`)));
    },
  },
  {
    id: 'valueMany',
    title: `user _many set of ${MANY} (10 000 users)`,
    api: (ctx) =>
      request(ctx, 'POST', () => ({
        path: `/users/${userId(pick(HOLDERS))}/attributes/_many`,
        body: {
          op: 'set',
          items: ctx.userNames.slice(0, MANY).map((name) => ({ name, value: `v${counter++}` })),
        },
      })),
    raw: (ctx) => async (timed) => {
      const changes = ctx.userNames.slice(0, MANY).map((name) => replace(name, `v${counter++}`));
      await timed((c) => c.modify(userDn(userId(pick(HOLDERS))), changes));
    },
  },
  {
    id: 'sessionSet',
    title: 'session value PUT with expiresIn (10 000 sessions)',
    api: (ctx) =>
      request(ctx, 'PUT', () => ({
        path: `/sessions/${sessionId(pick(HOLDERS))}/attributes/${ctx.sessionNames[0]}`,
        body: { value: `s${counter++}`, expiresIn: 3600 },
      })),
    raw: (ctx) => async (timed) => {
      const line = JSON.stringify({ name: ctx.sessionNames[0], values: [`s${counter++}`] });
      await timed((c) =>
        c.modify(sessionDn(sessionId(pick(HOLDERS))), replace('registrySessionValue', line)),
      );
    },
  },
  hot('user'),
  hot('session'),
];
