import { expect } from 'chai';
import { reconcileDiff, suspicionDue, toReread } from '../../../src/ldap/reconcile.js';

describe('reconcileDiff', () => {
  it('finds definitions gone from the directory, changed there, and new there', () => {
    const held: [string, string | undefined][] = [
      ['kept', 'csn1'],
      ['deleted', 'csn2'],
      ['changed', 'csn3'],
      ['unversioned', undefined],
    ];
    const directory = new Map([
      ['kept', 'csn1'],
      ['changed', 'csn4'],
      ['unversioned', ''],
      ['created', 'csn5'],
    ]);
    const diff = reconcileDiff(held, directory);
    expect(diff).to.deep.equal({ missing: ['deleted'], changed: ['changed'], added: ['created'] });
    expect(toReread(diff)).to.deep.equal(['deleted', 'changed', 'created']);
  });

  it('finds nothing when the index holds what the directory holds', () => {
    const both = new Map([
      ['a', 'x'],
      ['b', 'y'],
    ]);
    expect(toReread(reconcileDiff(both, both))).to.deep.equal([]);
  });

  it('reads again an entry whose version the directory no longer gives, and one it now gives', () => {
    const diff = reconcileDiff(
      [
        ['a', 'x'],
        ['b', undefined],
      ],
      new Map([
        ['a', ''],
        ['b', 'y'],
      ]),
    );
    expect(diff.changed).to.deep.equal(['a', 'b']);
  });
});

describe('suspicionDue', () => {
  const base = {
    contextMoved: true,
    now: 100_000,
    lastReconcile: 0,
    lastDurationMs: 100,
    minGapMs: 10_000,
    costFactor: 20,
  };

  it('is due when contextCSN moved beyond what the log named, and not otherwise', () => {
    expect(suspicionDue(base)).to.equal(true);
    expect(suspicionDue({ ...base, contextMoved: false })).to.equal(false);
  });

  it('keeps reconciles apart by the minimum gap, or by a multiple of the last one’s duration', () => {
    expect(suspicionDue({ ...base, lastReconcile: 95_000 })).to.equal(false);
    expect(suspicionDue({ ...base, lastReconcile: 90_000 })).to.equal(true);
    expect(suspicionDue({ ...base, lastReconcile: 90_000, lastDurationMs: 1000 })).to.equal(false);
    expect(suspicionDue({ ...base, lastReconcile: 80_000, lastDurationMs: 1000 })).to.equal(true);
  });
});
