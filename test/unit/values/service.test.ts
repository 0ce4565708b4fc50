import { expect } from 'chai';
import type { AttributeDefinition } from '../../../src/attributes/definition.js';
import { AppError, BadRequestError, ConcurrentChangeError } from '../../../src/errors.js';
import { ValueService, decodeValue, encodeValue, type Caller } from '../../../src/values/service.js';
import type { HolderRef, HolderState, ValueStore, ValueWrite } from '../../../src/values/store.js';
import { ValueCipher } from '../../../src/values/value-cipher.js';
import { ValueSchemas } from '../../../src/values/value-schema.js';

/** Holders in memory, with a version that every write bumps (as entryCSN does). */
class MemoryStore implements ValueStore {
  readonly holders = new Map<string, HolderState>();
  /** Makes the next write fail as if another process had written first. */
  interfere = 0;

  add(holder: HolderRef, owner: string): void {
    this.holders.set(this.key(holder), {
      owner,
      values: new Map(),
      meta: new Map(),
      version: '0',
      bookkept: true,
    });
  }
  private key(holder: HolderRef) {
    return `${holder.kind}:${holder.id}`;
  }
  async read(holder: HolderRef) {
    const state = this.holders.get(this.key(holder));
    return state && { ...state, values: new Map(state.values), meta: new Map(state.meta) };
  }
  async write(holder: HolderRef, current: HolderState, writes: ValueWrite[], nextExpiry?: string) {
    const state = this.holders.get(this.key(holder)) as HolderState;
    if (this.interfere > 0) {
      this.interfere--;
      state.version = String(Number(state.version) + 1);
    }
    if (state.version !== current.version) throw new ConcurrentChangeError();
    for (const w of writes) {
      const key = w.name.toLowerCase();
      if (w.values === undefined) {
        state.values.delete(key);
        state.meta.delete(key);
      } else {
        state.values.set(key, { name: w.name, values: w.values });
        if (w.meta) state.meta.set(key, w.meta);
      }
    }
    state.version = String(Number(state.version) + 1);
    this.nextExpiry = nextExpiry;
  }
  nextExpiry?: string;
  async expired(now: Date) {
    return [...this.holders.entries()]
      .filter(([, s]) =>
        [...s.meta.values()].some((m) => m.expiresAt && Date.parse(m.expiresAt) <= now.getTime()),
      )
      .map(([key]) => ({ kind: key.split(':')[0] as HolderRef['kind'], id: key.split(':')[1] as string }));
  }
  async holdersWith() {
    return [];
  }
  async whyNoCiphertext() {
    return undefined;
  }
}

const definition = (name: string, fields: Partial<AttributeDefinition> = {}): AttributeDefinition => ({
  inum: name,
  name,
  displayName: name,
  dataType: 'string',
  status: 'active',
  editType: ['admin', 'user'],
  viewType: ['admin', 'user'],
  ...fields,
});

describe('ValueService (in memory, with a clock the test moves)', () => {
  let store: MemoryStore;
  let clock: number;
  let service: ValueService;
  const alice: HolderRef = { kind: 'user', id: 'alice' };
  const admin: Caller = { admin: true };
  const own: Caller = { admin: false, subject: 'alice' };

  beforeEach(() => {
    store = new MemoryStore();
    store.add(alice, 'alice');
    clock = Date.parse('2030-01-01T00:00:00Z');
    const definitions = [
      definition('nickname'),
      definition('role', { oxMultiValuedAttribute: true, editType: ['admin'], viewType: ['admin'] }),
    ];
    service = new ValueService(
      store,
      new ValueSchemas(
        async () => definitions,
        60_000,
        () => clock,
      ),
      new ValueCipher(undefined),
      () => new Date(clock),
    );
  });

  it('makes a value absent the moment it expires, and purges it', async () => {
    await service.one(alice, admin, 'set', { name: 'nickname', value: 'x', expiresIn: 60 });
    expect(store.nextExpiry).to.equal('2030-01-01T00:01:00.000Z');
    clock += 59_999;
    expect((await service.one(alice, admin, 'exists', { name: 'nickname' })).exists).to.equal(true);
    clock += 1;
    expect((await service.one(alice, admin, 'exists', { name: 'nickname' })).exists).to.equal(false);
    expect(await service.names(alice, admin)).to.deep.equal([]);
    expect(store.holders.get('user:alice')?.values.has('nickname'), 'still stored until purged').to.equal(
      true,
    );
    expect(await service.purgeExpired()).to.equal(1);
    expect(store.holders.get('user:alice')?.values.has('nickname')).to.equal(false);
    expect(store.nextExpiry).to.equal(undefined);
  });

  it('answers a batch per item and writes the valid items together', async () => {
    const results = await service.many(alice, admin, 'create', [
      { name: 'nickname', value: 'n' },
      { name: 'role', value: 'not a list' },
      { name: 'nickname', value: 'twice' },
      { name: 'unknown', value: 1 },
    ]);
    expect(results.map((r) => r.status)).to.deep.equal([201, 400, 400, 400]);
    expect(results[2]?.error?.description).to.contain('named twice');
    expect(store.holders.get('user:alice')?.version).to.equal('1');
  });

  it("holds a user's own token to the user flags and to its own holder", async () => {
    await service.one(alice, admin, 'set', { name: 'role', value: ['a'] });
    const refused = await service.one(alice, own, 'get', { name: 'role' }).catch((e: unknown) => e);
    expect((refused as AppError).status).to.equal(403);
    const other = await service
      .one(alice, { admin: false, subject: 'bob' }, 'get', { name: 'nickname' })
      .catch((e: unknown) => e);
    expect((other as AppError).status).to.equal(403);
  });

  it('re-applies a write over a holder another process changed meanwhile', async () => {
    store.interfere = 2;
    await service.one(alice, admin, 'set', { name: 'nickname', value: 'kept' });
    expect(store.holders.get('user:alice')?.values.get('nickname')?.values).to.deep.equal(['kept']);
  });
});

describe('generalizedTime values', () => {
  const when = definition('updatedAt', { dataType: 'generalizedTime' });

  it('stores an instant in the directory form, and serves it back in RFC 3339', () => {
    expect(encodeValue(when, '2026-01-02T04:04:05+01:00')).to.equal('20260102030405Z');
    expect(decodeValue(when, '20260102030405Z')).to.equal('2026-01-02T03:04:05.000Z');
  });

  it('refuses, naming the attribute, a date-time that is no representable instant in years 0000-9999', () => {
    for (const text of ['2024-06-30T23:59:60Z', '2024-01-01T00:00:00+99:99', '9999-12-31T23:00:00-05:00']) {
      const refused = (() => {
        try {
          return encodeValue(when, text);
        } catch (error) {
          return error;
        }
      })();
      expect(refused, text).to.be.instanceOf(BadRequestError);
      expect((refused as BadRequestError).description).to.contain('updatedAt must be a date-time');
    }
  });

  it('serves a stored time JavaScript cannot represent (a leap second) as stored', () => {
    expect(decodeValue(when, '20240630235960Z')).to.equal('20240630235960Z');
  });
});
