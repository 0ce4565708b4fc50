import { expect } from 'chai';
import { DefinitionIndex } from '../../../src/attributes/definition-index.js';
import type { StoredAttribute } from '../../../src/attributes/definition.js';
import { parseListQuery, sortAndPage, type ListParams } from '../../../src/attributes/query.js';

const stored = (inum: string, fields: Record<string, unknown>, version = '1'): StoredAttribute => ({
  dn: `inum=${inum},ou=attributes,o=jans`,
  definition: { inum, name: `n${inum}`, dataType: 'string', ...fields },
  version,
});

/** A few hundred definitions with repeated and missing sort keys, mixed case, lists and flags. */
function sample(): StoredAttribute[] {
  const all: StoredAttribute[] = [];
  for (let i = 0; i < 300; i++) {
    all.push(
      stored(`I${(i * 7919) % 1000}`, {
        displayName: i % 5 === 0 ? undefined : `${i % 3 === 0 ? 'Edu' : 'biz'} Name ${i % 17}`,
        description: i % 4 === 0 ? 'about EDUCATION' : 'other',
        status: i % 6 === 0 ? 'inactive' : 'active',
        editType: i % 2 ? ['admin'] : ['user', 'admin'],
        viewType: ['admin'],
        ...(i % 9 === 0 ? { scimCustomAttr: true } : {}),
        claimName: `claim${i % 50}`,
      }),
    );
  }
  return all;
}

describe('DefinitionIndex', () => {
  const queries: ListParams[] = [
    {},
    { pattern: 'edu', limit: 50 },
    { pattern: 'edu', sortBy: 'displayName', sortOrder: 'descending', startIndex: 40, limit: 30 },
    { sortBy: 'displayName', startIndex: 290, limit: 50 },
    { fieldValuePair: 'status=inactive,userCanEdit=true', sortBy: 'name' },
    { fieldValuePair: 'scimCustomAttr=false', sortBy: 'editType', sortOrder: 'descending' },
    { fieldValuePair: 'claimName=CLAIM7', status: 'active' },
    { pattern: 'name 1,other', sortBy: 'adminCanEdit', startIndex: 100, limit: 7 },
  ];

  it('answers every query as a search of everything followed by a global sort would', () => {
    const all = sample();
    const index = new DefinitionIndex();
    index.replaceAll(all, index.mark());
    for (const params of queries) {
      const query = parseListQuery(params, 200);
      // What the directory would return for the filter, then the service's sort.
      const expected = sortAndPage(
        all.filter((s) => !query.where || matchesLikeDirectory(s, params)),
        query,
      );
      const page = index.list(query);
      expect(page.totalEntriesCount, JSON.stringify(params)).to.equal(expected.totalEntriesCount);
      expect(
        page.entries.map((s) => s.definition.inum),
        JSON.stringify(params),
      ).to.deep.equal(expected.entries.map((s) => s.definition.inum));
    }
  });

  it('keeps sort orders and results right through changes', () => {
    const all = sample();
    const index = new DefinitionIndex();
    index.replaceAll(all, index.mark());
    const query = parseListQuery({ sortBy: 'displayName', sortOrder: 'descending', limit: 200 }, 200);
    index.list(query);
    const changed = stored('I7', { displayName: 'zzz first' }, '2');
    index.put(changed);
    index.remove('I14');
    index.put(stored('NEW', { displayName: 'AAA' }));
    const now = [
      ...all.filter((s) => !['I7', 'I14'].includes(s.definition.inum)),
      changed,
      stored('NEW', {}),
    ];
    const page = index.list(query);
    expect(page.totalEntriesCount).to.equal(now.length);
    expect(page.entries[0]?.definition.inum).to.equal('I7');
    expect(index.list(parseListQuery({ pattern: 'nNEW' }, 200)).totalEntriesCount).to.equal(1);
    expect(index.lookup('name', 'NI14')).to.deep.equal([]);
  });

  it('keeps sort orders right through bursts of changes of every size between two reads', () => {
    const all = sample();
    const index = new DefinitionIndex();
    index.replaceAll(all, index.mark());
    const byDisplayName = parseListQuery({ sortBy: 'displayName', limit: 200 }, 200);
    const byName = parseListQuery(
      { sortBy: 'name', sortOrder: 'descending', startIndex: 150, limit: 200 },
      200,
    );
    const current = new Map(all.map((s) => [s.definition.inum, s]));
    let random = 7;
    const next = (below: number) => (random = (random * 48271) % 2147483647) % below;
    let version = 2;
    // Below, at and above what an order brings up to date in place; the last burst makes the order
    // bring itself up to date before it is read.
    for (const burst of [1, 5, 64, 65, 300, 5000]) {
      for (let i = 0; i < burst; i++) {
        const inum = `I${next(1200)}`;
        const choice = next(10);
        if (choice === 0) {
          index.remove(inum);
          current.delete(inum);
        } else if (choice === 1 && current.has(inum)) {
          // The same object again: no change of place.
          index.put(current.get(inum) as StoredAttribute);
        } else {
          const changed = stored(inum, { displayName: `Edu ${next(40)}` }, String(version++));
          index.put(changed);
          current.set(inum, changed);
        }
      }
      for (const query of [byDisplayName, byName]) {
        const expected = sortAndPage([...current.values()], query);
        const page = index.list(query);
        expect(page.totalEntriesCount, `after ${burst}`).to.equal(expected.totalEntriesCount);
        expect(
          page.entries.map((s) => s.definition.inum),
          `after ${burst}`,
        ).to.deep.equal(expected.entries.map((s) => s.definition.inum));
      }
    }
  });

  it('does not let a read that overlapped a local change undo it', () => {
    const index = new DefinitionIndex();
    index.replaceAll([stored('A', {}, '1')], index.mark());
    const since = index.mark();
    index.remove('A');
    index.applyRead('A', stored('A', {}, '1'), since);
    expect(index.get('A')).to.equal(undefined);

    index.put(stored('B', { displayName: 'mine' }, '5'));
    index.applyRead('B', stored('B', { displayName: 'older' }, '4'), index.mark());
    expect(index.get('B')?.definition.displayName).to.equal('mine');
    index.applyRead('B', stored('B', { displayName: 'newer' }, '6'), index.mark());
    expect(index.get('B')?.definition.displayName).to.equal('newer');
    index.applyRead('B', undefined, index.mark());
    expect(index.get('B')).to.equal(undefined);
  });

  it('keeps local changes made while a whole reload was being read', () => {
    const index = new DefinitionIndex();
    index.replaceAll([stored('A', {}), stored('B', {})], index.mark());
    const since = index.mark();
    index.put(stored('A', { displayName: 'changed' }, '2'));
    index.remove('B');
    index.replaceAll([stored('A', {}), stored('B', {})], since);
    expect(index.get('A')?.definition.displayName).to.equal('changed');
    expect(index.get('B')).to.equal(undefined);
    expect(index.size).to.equal(1);
  });
});

/** The sample's queries, evaluated independently of the index's matcher. */
function matchesLikeDirectory(s: StoredAttribute, params: ListParams): boolean {
  const d = s.definition;
  const text = [d.name, d.displayName, d.description, d.inum].map((v) => (v ?? '').toLowerCase());
  const tokens = (params.pattern ?? '').split(',').filter(Boolean);
  if (tokens.length > 0 && !tokens.some((t) => text.some((v) => v.includes(t.toLowerCase())))) return false;
  if (params.status && params.status !== 'all' && d.status !== params.status) return false;
  for (const pair of (params.fieldValuePair ?? '').split(',').filter(Boolean)) {
    const [field, value] = pair.split('=') as [string, string];
    if (field === 'status' && d.status !== value) return false;
    if (field === 'userCanEdit' && (d.editType ?? []).includes('user') !== (value === 'true')) return false;
    if (field === 'scimCustomAttr' && (d.scimCustomAttr === true) !== (value === 'true')) return false;
    if (field === 'claimName' && d.claimName?.toLowerCase() !== value.toLowerCase()) return false;
  }
  return true;
}
