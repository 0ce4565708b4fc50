import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AppError } from '../errors.js';

/** Marks a stored value as ciphertext; the key id follows, so any configured key can read it back. */
const PREFIX = '{aes256gcm}';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface CipherKeys {
  /** Every key that may have written a stored value, by id (32 bytes each). */
  keys: Map<string, Buffer>;
  /** The id of the key new values are written with. */
  writeKeyId: string;
}

/** Raised when a stored value names a key that is not configured, or fails authentication. */
export class UnreadableValueError extends AppError {
  constructor(detail: string) {
    super(500, 'A stored value cannot be decrypted', detail);
  }
}

/**
 * AES-256-GCM for values at rest. A stored value is `{aes256gcm}<key id>:<base64(iv | tag | ciphertext)>`;
 * the attribute name is bound in as additional data, so a value copied to another attribute fails to
 * decrypt. Keys are never logged.
 */
export class ValueCipher {
  constructor(private readonly config: CipherKeys | undefined) {}

  get enabled(): boolean {
    return this.config !== undefined;
  }

  get writeKeyId(): string | undefined {
    return this.config?.writeKeyId;
  }

  /** Whether a value written with this key id can be read back here. */
  hasKey(keyId: string): boolean {
    return this.config?.keys.has(keyId) === true;
  }

  static isCiphertext(stored: string): boolean {
    return stored.startsWith(PREFIX);
  }

  /** The id of the key a stored value was written with, or undefined for a clear value. */
  static keyIdOf(stored: string): string | undefined {
    if (!ValueCipher.isCiphertext(stored)) return undefined;
    return stored.slice(PREFIX.length).split(':', 1)[0];
  }

  encrypt(attribute: string, clear: string): string {
    if (!this.config) {
      throw new AppError(
        409,
        'Encryption is not configured',
        `Values of ${attribute} are to be stored encrypted, but VALUE_ENCRYPTION_KEYS is not set.`,
      );
    }
    const { writeKeyId } = this.config;
    const key = this.config.keys.get(writeKeyId) as Buffer;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(attribute.toLowerCase(), 'utf8'));
    const body = Buffer.concat([cipher.update(clear, 'utf8'), cipher.final()]);
    const sealed = Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
    return `${PREFIX}${writeKeyId}:${sealed}`;
  }

  decrypt(attribute: string, stored: string): string {
    if (!ValueCipher.isCiphertext(stored)) return stored;
    const rest = stored.slice(PREFIX.length);
    const colon = rest.indexOf(':');
    const keyId = rest.slice(0, colon);
    const key = this.config?.keys.get(keyId);
    if (colon < 0 || !key) throw new UnreadableValueError(`No configured key has the id '${keyId}'.`);
    const sealed = Buffer.from(rest.slice(colon + 1), 'base64');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(attribute.toLowerCase(), 'utf8'));
      decipher.setAuthTag(sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([
        decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new UnreadableValueError(`The value of ${attribute} fails authentication with key '${keyId}'.`);
    }
  }
}
