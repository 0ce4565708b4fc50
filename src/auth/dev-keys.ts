import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A fresh RSA key pair in PEM form, for signing RS256 tokens. */
export function newRsaKeyPair(): { privateKey: string; publicKey: string } {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

export interface KeyPair {
  privateKey: string;
  publicKey: string;
  publicKeyFile: string;
}

/**
 * The development signing key in the data directory, created on first use. `npm run token` signs with
 * it and a service started with the same DATA_DIR verifies with it.
 */
export async function devKeyPair(dataDir: string): Promise<KeyPair> {
  const privateFile = join(dataDir, 'jwt-private.pem');
  const publicKeyFile = join(dataDir, 'jwt-public.pem');
  if (!existsSync(privateFile) || !existsSync(publicKeyFile)) {
    await mkdir(dataDir, { recursive: true });
    const { privateKey, publicKey } = newRsaKeyPair();
    await writeFile(privateFile, privateKey, { mode: 0o600 });
    await writeFile(publicKeyFile, publicKey);
  }
  return {
    privateKey: await readFile(privateFile, 'utf8'),
    publicKey: await readFile(publicKeyFile, 'utf8'),
    publicKeyFile,
  };
}
