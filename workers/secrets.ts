import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Secrets at rest (webhook signing secrets, later connector credentials): AES-256-GCM under a 32-byte key
 * from PORTAL_SECRET_KEY. The ciphertext is `v1.<iv>.<tag>.<data>` in base64url, so a key rotation can add v2.
 */
export function encryptSecret(key: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv, cipher.getAuthTag(), data].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
}

/** Decrypts what encryptSecret produced; a wrong key or a tampered value throws. */
export function decryptSecret(key: Buffer, ciphertext: string): string {
  const [version, iv, tag, data] = ciphertext.split('.');
  if (version !== 'v1' || !iv || !tag || data === undefined) throw new Error('unrecognised secret format');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
}

/** Parses a base64 key of exactly 32 bytes. */
export function parseSecretKey(value: string): Buffer {
  const key = Buffer.from(value, 'base64');
  if (key.length !== 32) throw new Error('PORTAL_SECRET_KEY must be 32 bytes, base64-encoded (openssl rand -base64 32)');
  return key;
}

/**
 * The configured key, or for a local install one generated once and kept (mode 0600) in the data
 * directory. Production sets PORTAL_SECRET_KEY so every replica shares it.
 */
export function loadOrCreateSecretKey(configured: string | null, dataDir: string): Buffer {
  if (configured) return parseSecretKey(configured);
  const file = join(dataDir, 'secret.key');
  if (existsSync(file)) return parseSecretKey(readFileSync(file, 'utf8').trim());
  mkdirSync(dirname(file), { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, `${key.toString('base64')}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return key;
}

/**
 * The configured key for a part run on its own (`npm run api`, `npm run worker`): replicas must share one
 * key, so these never invent one.
 */
export function requireSecretKey(configured: string | null, part: string): Buffer {
  if (!configured) throw new Error(`PORTAL_SECRET_KEY is required to run the ${part} on its own (32 bytes, base64: openssl rand -base64 32).`);
  return parseSecretKey(configured);
}
