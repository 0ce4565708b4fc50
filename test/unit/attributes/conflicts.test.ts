import { expect } from 'chai';
import { findConflicts } from '../../../src/attributes/conflicts.js';
import { DefinitionIndex } from '../../../src/attributes/definition-index.js';
import type { StoredAttribute } from '../../../src/attributes/definition.js';

const stored = (inum: string, name: string, fields: Record<string, unknown> = {}): StoredAttribute => ({
  dn: `inum=${inum},ou=attributes,o=jans`,
  definition: { inum, name, dataType: 'string', status: 'active', ...fields },
  version: '1',
});

describe('findConflicts', () => {
  it('finds names held twice (ignoring case) and claim names released by two active definitions', () => {
    const found = findConflicts([
      stored('A', 'nick'),
      stored('B', 'NICK'),
      stored('C', 'mail', { claimName: 'email' }),
      stored('D', 'mail2', { claimName: 'Email' }),
      stored('E', 'mail3', { claimName: 'email', status: 'inactive' }),
      stored('F', 'alone', { claimName: 'alone' }),
    ]);
    expect(found.map((c) => [c.kind, c.value, c.definitions.map((s) => s.definition.inum)])).to.deep.equal([
      ['name', 'nick', ['A', 'B']],
      ['claimName', 'email', ['C', 'D']],
    ]);
  });
});

describe('DefinitionIndex.conflicts', () => {
  it('reports a conflict while it lasts, and none once one definition is renamed or deactivated', () => {
    const index = new DefinitionIndex();
    index.replaceAll([stored('A', 'x', { claimName: 'c' }), stored('B', 'y')], index.mark());
    expect(index.conflicts()).to.deep.equal([]);
    index.applyRead('B', { ...stored('B', 'X', { claimName: 'c' }), version: '2' }, index.mark());
    expect(index.conflicts().map((c) => c.kind)).to.deep.equal(['name', 'claimName']);
    index.put(stored('B', 'z', { claimName: 'c', status: 'inactive' }));
    expect(index.conflicts()).to.deep.equal([]);
  });
});
