import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { UnreadableValueError, ValueCipher } from '../../../src/values/value-cipher.js';

describe('ValueCipher', () => {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);

  it('writes with the current key, names it in the value, and reads with any configured key', () => {
    const old = new ValueCipher({ keys: new Map([['k1', k1]]), writeKeyId: 'k1' });
    const sealed = old.encrypt('secretAnswer', 'blue');
    expect(sealed).to.match(/^\{aes256gcm\}k1:/);
    expect(ValueCipher.keyIdOf(sealed)).to.equal('k1');
    expect(old.encrypt('secretAnswer', 'blue'), 'a fresh IV each time').to.not.equal(sealed);
    const rotated = new ValueCipher({
      keys: new Map([
        ['k1', k1],
        ['k2', k2],
      ]),
      writeKeyId: 'k2',
    });
    expect(rotated.decrypt('secretAnswer', sealed)).to.equal('blue');
    expect(rotated.encrypt('x', 'y')).to.match(/^\{aes256gcm\}k2:/);
    expect(rotated.decrypt('x', 'clear text')).to.equal('clear text');
    expect([rotated.hasKey('k1'), old.hasKey('k2'), new ValueCipher(undefined).hasKey('k1')]).to.deep.equal([
      true,
      false,
      false,
    ]);
  });

  it('refuses a value moved to another attribute, a tampered one, and one of an unknown key', () => {
    const cipher = new ValueCipher({ keys: new Map([['k1', k1]]), writeKeyId: 'k1' });
    const sealed = cipher.encrypt('secretAnswer', 'blue');
    expect(() => cipher.decrypt('nickname', sealed)).to.throw(UnreadableValueError);
    const tampered = sealed.slice(0, -4) + (sealed.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect(() => cipher.decrypt('secretAnswer', tampered)).to.throw(UnreadableValueError);
    const other = new ValueCipher({ keys: new Map([['k2', k2]]), writeKeyId: 'k2' });
    const unknownKey = (() => {
      try {
        other.decrypt('secretAnswer', sealed);
      } catch (error) {
        return error as UnreadableValueError;
      }
      return undefined;
    })();
    expect(unknownKey?.description).to.contain("'k1'");
    expect(() => new ValueCipher(undefined).encrypt('a', 'b')).to.throw('Encryption is not configured');
  });
});
