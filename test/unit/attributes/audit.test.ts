import { expect } from 'chai';
import { auditTarget } from '../../../src/attributes/audit.js';

describe('auditTarget', () => {
  it('finds a definition event by its inum, scope and value events by a prefixed key', () => {
    expect(auditTarget({ inum: 'B4B0' })).to.equal('B4B0');
    expect(auditTarget({ scope: '43F1' })).to.equal('scope:43F1');
    expect(auditTarget({ holder: { kind: 'user', id: 'u-1' } })).to.equal('user:u-1');
    expect(auditTarget({ holder: { kind: 'session', id: 's-1' } })).to.equal('session:s-1');
    expect(auditTarget({})).to.equal(undefined);
  });

  it('never files a refused request under another history because its path held a colon', () => {
    expect(auditTarget({ inum: 'user:u-1' })).to.equal(undefined);
    expect(auditTarget({ inum: 'scope:43F1' })).to.equal(undefined);
  });
});
