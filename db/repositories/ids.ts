import { v5 as uuidv5, v7 as uuidv7, validate } from 'uuid';

/** A new, time-ordered id (UUIDv7): keyset pagination by id is creation order. */
export function newId(): string {
  return uuidv7();
}

const PORTAL_NAMESPACE = 'b7d6a0f1-5a4e-4a8e-9a51-3f4f0d6b9e21';

/** A stable id derived from a client key, so a retried create lands on the same row. */
export function idFromKey(scope: string, key: string): string {
  return uuidv5(`${scope}\u0000${key}`, PORTAL_NAMESPACE);
}

/** True for any RFC 9562 UUID string. */
export function isUuid(value: string): boolean {
  return validate(value);
}
