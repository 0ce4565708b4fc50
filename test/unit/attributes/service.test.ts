import { expect } from 'chai';
import type { Operation } from 'fast-json-patch';
import {
  toWire,
  type AttributeDefinition,
  type StoredAttribute,
} from '../../../src/attributes/definition.js';
import { matches, sortAndPage, type ListQuery, type Page } from '../../../src/attributes/query.js';
import { AttributeService, type ServiceOptions, type Update } from '../../../src/attributes/service.js';
import { sameDn, type Scope, type ScopeStore, type StoredScope } from '../../../src/attributes/scopes.js';
import type { AttributeStore, PersonSchema, SchemaGap, WantedType } from '../../../src/attributes/store.js';
import {
  AppError,
  BadRequestError,
  ConcurrentChangeError,
  ConflictError,
  DirectoryUnavailableError,
  NotFoundError,
  NotInSchemaError,
} from '../../../src/errors.js';
import { rejected } from '../helpers.js';

/** Definitions in a map; `list` ignores `where` (the directory does the filtering). */
class MemoryStore implements AttributeStore {
  readonly entries = new Map<string, StoredAttribute>();
  readonly queries: ListQuery[] = [];
  writes = 0;
  /** How many of the next creates report their inum as taken. */
  takenInums = 0;

  add(definition: AttributeDefinition): StoredAttribute {
    const stored = { dn: `inum=${definition.inum},ou=attributes,o=jans`, definition };
    this.entries.set(definition.inum, stored);
    return stored;
  }

  async list(query: ListQuery): Promise<Page> {
    this.queries.push(query);
    return sortAndPage([...this.entries.values()], query);
  }

  async get(inum: string): Promise<StoredAttribute | undefined> {
    const found = this.entries.get(inum);
    return found && structuredClone(found);
  }

  async findByName(name: string): Promise<StoredAttribute[]> {
    return [...this.entries.values()].filter((s) => s.definition.name?.toLowerCase() === name.toLowerCase());
  }

  async create(definition: AttributeDefinition): Promise<StoredAttribute | undefined> {
    if (this.takenInums > 0) {
      this.takenInums--;
      return undefined;
    }
    if (this.entries.has(definition.inum)) return undefined;
    this.writes++;
    return structuredClone(this.add(structuredClone(definition)));
  }

  /** Thrown by the next replace instead of writing. */
  failNextReplace: Error | undefined;

  async replace(current: StoredAttribute, definition: AttributeDefinition): Promise<StoredAttribute> {
    const failure = this.failNextReplace;
    this.failNextReplace = undefined;
    if (failure) throw failure;
    this.writes++;
    const stored = { dn: current.dn, definition: structuredClone(definition) };
    this.entries.set(current.definition.inum, stored);
    return structuredClone(stored);
  }

  async remove(inum: string): Promise<boolean> {
    return this.entries.delete(inum);
  }
}

/** Person entries can carry exactly the names given, and extending the schema adds a name. */
class FixedSchema implements PersonSchema {
  readonly asked: string[] = [];
  constructor(private readonly allowed: string[]) {}

  async gap({ name }: WantedType): Promise<SchemaGap | undefined> {
    this.asked.push(name);
    return this.allowed.includes(name)
      ? undefined
      : { reason: `The directory schema has no attribute type named '${name}'.`, ldif: `add ${name}` };
  }

  async extend({ name }: WantedType): Promise<void> {
    this.allowed.push(name);
  }
}

/** Scopes held in memory, releasing claims by definition DN. */
class MemoryScopes implements ScopeStore {
  readonly scopes = new Map<string, Scope>();

  async list(): Promise<StoredScope[]> {
    return [...this.scopes.values()].map((scope) => ({ scope: structuredClone(scope) }));
  }

  async get(inum: string): Promise<StoredScope | undefined> {
    const scope = this.scopes.get(inum);
    return scope && { scope: structuredClone(scope) };
  }

  async referencing(dn: string): Promise<StoredScope[]> {
    return (await this.list()).filter((s) => s.scope.claims.some((c) => sameDn(c, dn)));
  }

  async replace(_current: StoredScope, next: Scope): Promise<void> {
    this.scopes.set(next.inum, structuredClone(next));
  }

  async removeClaim(inum: string, dn: string): Promise<void> {
    const scope = this.scopes.get(inum);
    if (scope) scope.claims = scope.claims.filter((c) => !sameDn(c, dn));
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('AttributeService', () => {
  let store: MemoryStore;
  let schema: FixedSchema;
  let scopes: MemoryScopes;
  let service: AttributeService;
  const make = (options: Partial<ServiceOptions> = {}) =>
    new AttributeService(store, schema, scopes, {
      maxPageSize: 100,
      schemaCheck: true,
      patchedShape: () => {},
      ...options,
    });

  const nick = {
    inum: 'NICK',
    name: 'nickname',
    displayName: 'Nickname',
    description: 'A casual name',
    dataType: 'string',
    status: 'active',
    urn: 'urn:jans:nickname',
    editType: ['admin'],
    viewType: ['admin', 'user'],
  };
  const body = (extra: Record<string, unknown> = {}) => ({
    name: 'nickname',
    displayName: 'Nickname',
    description: 'A casual name',
    dataType: 'string',
    editType: ['admin'],
    viewType: ['admin', 'user'],
    ...extra,
  });

  beforeEach(() => {
    store = new MemoryStore();
    schema = new FixedSchema(['nickname', 'middleName', 'jansAlias']);
    scopes = new MemoryScopes();
    service = make();
  });

  describe('list', () => {
    it('passes the parsed query to the store', async () => {
      store.add({ inum: 'A' });
      const page = await service.list({ status: 'ACTIVE', sortOrder: 'descending' });
      expect(page.totalEntriesCount).to.equal(1);
      expect(store.queries).to.deep.equal([
        {
          where: { kind: 'equals', field: 'status', value: 'active' },
          sortBy: 'inum',
          descending: true,
          startIndex: 0,
          limit: 50,
        },
      ]);
    });

    it('holds limit to the configured maximum page size', async () => {
      // list() throws before it returns a promise; async callers see the same error either way.
      const error = await rejected(
        Promise.resolve().then(() => service.list({ limit: 101 })),
        BadRequestError,
      );
      expect(error.message).to.equal('Invalid query parameter limit');
      expect(store.queries).to.deep.equal([]);
    });
  });

  describe('get and remove', () => {
    it('answers 404 for an unknown inum', async () => {
      expect((await rejected(service.get('NOPE'), NotFoundError)).status).to.equal(404);
      await rejected(service.remove('NOPE'), NotFoundError);
    });

    it('removes a definition', async () => {
      store.add({ ...nick });
      await service.remove('NICK');
      expect(store.entries.has('NICK')).to.equal(false);
    });

    describe('used by scopes', () => {
      const profile = (dn: string): Scope => ({
        dn: 'inum=P,ou=scopes',
        inum: 'P',
        id: 'profile',
        claims: [dn],
      });
      let dn: string;
      beforeEach(async () => {
        store.add({ ...nick });
        dn = (await service.get('NICK')).dn;
        scopes.scopes.set('P', profile(dn.toUpperCase()));
      });

      it('refuses to remove a definition a scope releases, naming the scope', async () => {
        const error = await rejected(service.remove('NICK'), ConflictError);
        expect(error.description).to.contain('profile (P)');
        expect(store.entries.has('NICK')).to.equal(true);
        expect(scopes.scopes.get('P')?.claims).to.have.length(1);
      });

      it('with force, removes it from the scope and then deletes it', async () => {
        const change = await service.remove('NICK', undefined, true);
        expect(store.entries.has('NICK')).to.equal(false);
        expect(scopes.scopes.get('P')?.claims).to.deep.equal([]);
        expect(change.warnings?.[0]).to.contain('profile (P)');
      });

      it('lists the scopes as its usage', async () => {
        const usage = await service.usage('NICK');
        expect(usage.scopes.map((s) => s.inum)).to.deep.equal(['P']);
      });

      it('warns when a change makes it inactive, and not otherwise', async () => {
        const active = { ...toWire(await service.get('NICK')), status: 'active' };
        expect((await service.replace(active)).warnings).to.deep.equal([]);
        const { warnings } = await service.replace({ ...active, status: 'inactive' });
        expect(warnings[0]).to.contain('profile (P)');
      });
    });
  });

  describe('create', () => {
    it('stores the canonical definition under a random UUID, ignoring a client inum', async () => {
      const created = await service.create(body({ inum: 'MINE', dataType: 'STRING', viewType: ['USER'] }));
      expect(created.definition.inum).to.match(UUID);
      expect(store.entries.has('MINE')).to.equal(false);
      expect(store.entries.get(created.definition.inum)?.definition).to.deep.equal({
        inum: created.definition.inum,
        name: 'nickname',
        displayName: 'Nickname',
        description: 'A casual name',
        dataType: 'string',
        editType: ['admin'],
        viewType: ['user'],
      });
      const again = await service.create(body({ name: 'middleName' }));
      expect(again.definition.inum).not.to.equal(created.definition.inum);
    });

    it('refuses a name in use, ignoring case, naming the definition that has it', async () => {
      store.add({ ...nick });
      const error = await rejected(service.create(body({ name: 'NickName' })), ConflictError);
      expect(error.status).to.equal(409);
      expect(error.description).to.contain('NICK');
      expect(store.writes).to.equal(0);
    });

    it('refuses a name that breaks the rules for new names', async () => {
      const error = await rejected(service.create(body({ name: 'nick-name' })), BadRequestError);
      expect(error.message).to.equal('Invalid value for name');
      expect(store.writes).to.equal(0);
    });

    it('answers 406 with the schema’s reason when person entries cannot carry the name', async () => {
      const error = await rejected(service.create(body({ name: 'shoeSize' })), NotInSchemaError);
      expect(error.status).to.equal(406);
      expect(error.description).to.match(/^The directory schema has no attribute type named 'shoeSize'\. /);
      expect(error.schemaChange).to.equal('add shoeSize');
      expect(store.writes).to.equal(0);
    });

    it('extends the schema first when asked to, then creates the definition', async () => {
      const created = await service.create(body({ name: 'shoeSize' }), true);
      expect(created.definition.name).to.equal('shoeSize');
      expect(await schema.gap({ name: 'shoeSize', dataType: 'string', multiValued: false })).to.equal(
        undefined,
      );
    });

    it('does not consult the schema when the check is off', async () => {
      service = make({ schemaCheck: false });
      await service.create(body({ name: 'shoeSize' }));
      expect(schema.asked).to.deep.equal([]);
      expect(store.writes).to.equal(1);
    });

    it('draws another inum when the store finds it taken, and gives up after three', async () => {
      store.takenInums = 2;
      await service.create(body());
      expect(store.writes).to.equal(1);
      store.takenInums = 3;
      const error = await rejected(service.create(body({ name: 'middleName' })), AppError);
      expect(error.status).to.equal(500);
    });
  });

  describe('replace', () => {
    beforeEach(() => store.add({ ...nick }));

    it('needs an inum in the body, and answers 404 for an unknown one', async () => {
      const missing = await rejected(service.replace(body()), BadRequestError);
      expect(missing.description).to.equal('The attribute inum is required for this operation');
      await rejected(service.replace(body({ inum: 'NOPE' })), NotFoundError);
    });

    it('replaces every field, removing those left out, and keeps the urn when it is left out', async () => {
      const replaced = await service.replace(body({ inum: 'NICK', description: 'What friends call you' }));
      expect(replaced.after.definition).to.deep.equal({
        inum: 'NICK',
        name: 'nickname',
        displayName: 'Nickname',
        dataType: 'string',
        description: 'What friends call you',
        editType: ['admin'],
        viewType: ['admin', 'user'],
        urn: 'urn:jans:nickname',
      });
    });

    it('refuses to change the urn or the dn', async () => {
      const urn = await rejected(service.replace(body({ inum: 'NICK', urn: 'urn:other' })), BadRequestError);
      expect(urn.message).to.equal('Invalid value for urn');
      const dn = await rejected(
        service.replace(body({ inum: 'NICK', dn: 'inum=NICK,ou=people,o=jans' })),
        BadRequestError,
      );
      expect(dn.message).to.equal('Invalid value for dn');
      expect(store.writes).to.equal(0);
    });

    it('accepts the same urn and dn', async () => {
      await service.replace(body({ inum: 'NICK', urn: nick.urn, dn: 'inum=NICK,ou=attributes,o=jans' }));
      expect(store.writes).to.equal(1);
    });

    it('sets a urn on a definition that had none', async () => {
      store.add({ inum: 'PLAIN', name: 'middleName', displayName: 'Middle', dataType: 'string' });
      const replaced = await service.replace(body({ inum: 'PLAIN', name: 'middleName', urn: 'urn:x' }));
      expect(replaced.after.definition.urn).to.equal('urn:x');
    });

    it('checks a new name like a POST: taken names, name rules, schema', async () => {
      store.add({ inum: 'ALIAS', name: 'jansAlias', displayName: 'Alias', dataType: 'string' });
      const taken = await rejected(service.replace(body({ inum: 'NICK', name: 'JANSALIAS' })), ConflictError);
      expect(taken.description).to.contain('ALIAS');
      await rejected(service.replace(body({ inum: 'NICK', name: 'nick name' })), BadRequestError);
      await rejected(service.replace(body({ inum: 'NICK', name: 'shoeSize' })), NotInSchemaError);
      expect(store.writes).to.equal(0);
      await service.replace(body({ inum: 'NICK', name: 'middleName' }));
      expect(store.entries.get('NICK')?.definition.name).to.equal('middleName');
    });

    it('keeps a stored name that predates the rules, without asking the schema', async () => {
      store.add({ inum: 'OLD', name: 'old-style.name', displayName: 'Old', dataType: 'string' });
      await service.replace(body({ inum: 'OLD', name: 'OLD-STYLE.NAME' }));
      expect(schema.asked).to.deep.equal([]);
      expect(store.entries.get('OLD')?.definition.name).to.equal('OLD-STYLE.NAME');
    });
  });

  describe('patch', () => {
    const patch = (operations: unknown[]) => service.patch('NICK', operations as Operation[]);

    beforeEach(() => store.add({ ...nick }));
    afterEach(() => {
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    });

    it('applies the operations to the JSON form and stores the result', async () => {
      const patched = await patch([
        { op: 'replace', path: '/displayName', value: 'Nick' },
        { op: 'add', path: '/editType/-', value: 'USER' },
        { op: 'remove', path: '/status' },
        { op: 'replace', path: '/oxMultiValuedAttribute', value: true },
      ]);
      const { status: _removed, ...rest } = nick;
      expect(patched.after.definition).to.deep.equal({
        ...rest,
        displayName: 'Nick',
        editType: ['admin', 'user'],
        oxMultiValuedAttribute: true,
      });
    });

    it('answers 409 when a test operation fails, and writes nothing', async () => {
      const error = await rejected(
        patch([
          { op: 'replace', path: '/displayName', value: 'Nick' },
          { op: 'test', path: '/status', value: 'inactive' },
        ]),
        ConflictError,
      );
      expect(error.description).to.contain('operation 1');
      expect(store.writes).to.equal(0);
      expect(store.entries.get('NICK')?.definition.displayName).to.equal('Nickname');
    });

    it('goes ahead when the test holds', async () => {
      await patch([
        { op: 'test', path: '/status', value: 'active' },
        { op: 'replace', path: '/status', value: 'inactive' },
      ]);
      expect(store.entries.get('NICK')?.definition.status).to.equal('inactive');
    });

    for (const path of ['/description', '/editType', '/viewType', '/displayName']) {
      it(`refuses a result without ${path.slice(1)}, which Janssen's schema requires`, async () => {
        const error = await rejected(patch([{ op: 'remove', path }]), BadRequestError);
        expect(error.description).to.equal(`The attribute ${path.slice(1)} is required for this operation`);
        expect(store.writes).to.equal(0);
      });
    }

    it('answers 400 for a path that does not exist', async () => {
      const error = await rejected(patch([{ op: 'remove', path: '/tooltip' }]), BadRequestError);
      expect(error.description).to.contain('path that does not exist');
      expect(store.writes).to.equal(0);
    });

    for (const path of ['/inum', '/dn', '/baseDn']) {
      it(`refuses to change ${path.slice(1)}`, async () => {
        const error = await rejected(patch([{ op: 'replace', path, value: 'OTHER' }]), BadRequestError);
        expect(error.description).to.equal(`${path.slice(1)} cannot be changed`);
        expect(store.writes).to.equal(0);
      });
    }

    it('refuses to patch a derived flag, pointing at editType and viewType', async () => {
      const error = await rejected(
        patch([{ op: 'replace', path: '/adminCanEdit', value: false }]),
        BadRequestError,
      );
      expect(error.description).to.contain('adminCanEdit is derived from editType and viewType');
      expect(store.writes).to.equal(0);
    });

    it('refuses __proto__, constructor and prototype paths without polluting any prototype', async () => {
      const attempts = [
        [{ op: 'add', path: '/__proto__/polluted', value: 'yes' }],
        [{ op: 'add', path: '/constructor/prototype/polluted', value: 'yes' }],
        [{ op: 'copy', from: '/__proto__', path: '/description' }],
        [{ op: 'replace', path: '/editType/__proto__', value: 'yes' }],
      ];
      for (const operations of attempts) {
        const error = await rejected(patch(operations), BadRequestError);
        expect(error.description, JSON.stringify(operations)).to.equal('The path names a forbidden property');
      }
      expect(store.writes).to.equal(0);
    });

    it('holds the patched document to the contract it was given', async () => {
      const seen: unknown[] = [];
      service = make({ patchedShape: (document) => seen.push(document) });
      await patch([{ op: 'replace', path: '/displayName', value: 'Nick' }]);
      expect(seen).to.have.length(1);
      expect(seen[0]).to.deep.include({ inum: 'NICK', displayName: 'Nick', adminCanEdit: true });

      service = make({
        patchedShape: () => {
          throw new BadRequestError('Invalid value for displayName');
        },
      });
      await rejected(patch([{ op: 'replace', path: '/displayName', value: 'N' }]), BadRequestError);
      expect(store.writes).to.equal(1);
    });

    it('holds a rename by patch to the rules for new names', async () => {
      await rejected(patch([{ op: 'replace', path: '/name', value: 'shoeSize' }]), NotInSchemaError);
      await rejected(patch([{ op: 'replace', path: '/name', value: 'nick name' }]), BadRequestError);
      expect(store.writes).to.equal(0);
    });

    it('answers 404 for an unknown inum', async () => {
      await rejected(
        service.patch('NOPE', [{ op: 'replace', path: '/displayName', value: 'x' }]),
        NotFoundError,
      );
    });

    describe('patches that wait for the same turn', () => {
      const five = () =>
        Promise.allSettled([
          patch([{ op: 'replace', path: '/displayName', value: 'A' }]),
          patch([
            { op: 'test', path: '/displayName', value: 'A' },
            { op: 'replace', path: '/displayName', value: 'B' },
          ]),
          patch([{ op: 'add', path: '/editType/-', value: 'user' }]),
          patch([{ op: 'test', path: '/displayName', value: 'Z' }]),
          patch([{ op: 'add', path: '/description', value: 'D' }]),
        ]);
      const values = (results: PromiseSettledResult<Update>[]) =>
        results.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
      const outcomes = (results: PromiseSettledResult<Update>[]) =>
        results.map((r) => (r.status === 'rejected' ? (r.reason as Error).constructor.name : 'ok'));

      it('applies them in arrival order, each to what the one before produced, in one write', async () => {
        const results = await five();
        expect(outcomes(results)).to.deep.equal(['ok', 'ok', 'ok', 'ConflictError', 'ok']);
        expect(store.writes).to.equal(1);
        const stored = store.entries.get('NICK')?.definition;
        expect(stored).to.deep.include({ displayName: 'B', description: 'D', editType: ['admin', 'user'] });
        const [first, second, third, , fifth] = values(results);
        // Each answer says what that patch changed, and carries the entry as written.
        expect(first?.before.definition.displayName).to.equal('Nickname');
        expect(first?.after.definition.displayName).to.equal('A');
        expect(second?.before.definition.displayName).to.equal('A');
        expect(second?.after.definition.displayName).to.equal('B');
        expect(third?.after.definition.description).to.equal('A casual name');
        expect(fifth?.before.definition.editType).to.deep.equal(['admin', 'user']);
        for (const answer of [first, second, third, fifth]) {
          expect(answer?.written?.definition).to.deep.equal(stored);
        }
      });

      it('runs them again on the fresh state when the entry changed since it was read', async () => {
        store.failNextReplace = new ConcurrentChangeError();
        const results = await five();
        expect(outcomes(results)).to.deep.equal(['ok', 'ok', 'ok', 'ConflictError', 'ok']);
        expect(store.writes).to.equal(1);
        expect(store.entries.get('NICK')?.definition).to.deep.include({ displayName: 'B', description: 'D' });
      });

      it('gives each a write of its own when the store refuses the combined change', async () => {
        store.failNextReplace = new ConflictError('Refused');
        const results = await five();
        expect(outcomes(results)).to.deep.equal(['ok', 'ok', 'ok', 'ConflictError', 'ok']);
        expect(store.writes).to.equal(4);
        expect(values(results)[4]?.written).to.equal(undefined);
        expect(store.entries.get('NICK')?.definition).to.deep.include({ displayName: 'B', description: 'D' });
      });

      it('answers every one with the error when the store fails', async () => {
        store.failNextReplace = new DirectoryUnavailableError();
        const results = await five();
        const down = 'DirectoryUnavailableError';
        expect(outcomes(results)).to.deep.equal([down, down, down, 'ConflictError', down]);
        expect(store.writes).to.equal(0);
      });
    });
  });

  describe('claims taken at the same time', () => {
    /** Filters as the directory does, so the claim check sees only the active holders of a claim. */
    class FilteringStore extends MemoryStore {
      override async list(query: ListQuery): Promise<Page> {
        const where = query.where;
        return sortAndPage(
          [...this.entries.values()].filter((s) => !where || matches(where, s)),
          query,
        );
      }
    }
    const claimed = (name: string) => body({ name, claimName: 'nick', status: 'active' });
    const outcomes = (results: PromiseSettledResult<unknown>[]) =>
      results.map((r) => (r.status === 'rejected' ? (r.reason as Error).constructor.name : 'ok'));
    const holders = () =>
      [...store.entries.values()].filter(
        (s) => s.definition.status === 'active' && s.definition.claimName?.toLowerCase() === 'nick',
      );

    beforeEach(() => {
      store = new FilteringStore();
      service = make({ schemaCheck: false });
    });

    it('lets exactly one of concurrent creates take an active claim, naming it to the others', async () => {
      const results = await Promise.allSettled(
        ['a', 'b', 'c', 'd', 'e'].map((n) => service.create(claimed(`nick_${n}`))),
      );
      expect(outcomes(results).filter((o) => o === 'ok')).to.have.length(1);
      expect(outcomes(results).filter((o) => o === 'ConflictError')).to.have.length(4);
      expect(store.writes).to.equal(1);
      const [winner] = holders();
      for (const r of results) {
        if (r.status === 'rejected')
          expect((r.reason as ConflictError).description).to.contain(winner?.definition.inum);
      }
    });

    it('lets exactly one of concurrent activations, claim renames and creates take the claim', async () => {
      const stored = {
        displayName: 'Nick',
        description: 'A casual name',
        dataType: 'string',
        editType: ['admin'],
        viewType: ['admin'],
      };
      store.add({ ...stored, inum: 'I1', name: 'one', claimName: 'nick', status: 'inactive' });
      store.add({ ...stored, inum: 'I2', name: 'two', claimName: 'Nick', status: 'inactive' });
      store.add({ ...stored, inum: 'R', name: 'other', claimName: 'other', status: 'active' });
      const activate = (inum: string) =>
        service.patch(inum, [{ op: 'replace', path: '/status', value: 'active' }]);
      const results = await Promise.allSettled([
        activate('I1'),
        activate('I2'),
        service.patch('R', [{ op: 'replace', path: '/claimName', value: 'NICK' }]),
        service.create(claimed('fresh')),
      ]);
      expect(outcomes(results).filter((o) => o === 'ok')).to.have.length(1);
      expect(outcomes(results).filter((o) => o === 'ConflictError')).to.have.length(3);
      expect(holders()).to.have.length(1);
    });
  });
});
