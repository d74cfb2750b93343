/** A page of results and the opaque cursor for the next one (null at the end). */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export class InvalidCursorError extends Error {
  constructor() {
    super('cursor is not one this API issued');
  }
}

/** Encodes the last seen sort key as an opaque cursor. */
export function encodeCursor(lastKey: string): string {
  return Buffer.from(JSON.stringify({ k: lastKey }), 'utf8').toString('base64url');
}

/** Decodes a cursor whose key must pass `valid`; anything we did not issue is an InvalidCursorError. */
export function decodeCursor(cursor: string, valid: (key: string) => boolean): string {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (value && typeof value === 'object' && 'k' in value && typeof value.k === 'string' && valid(value.k)) {
      return value.k;
    }
  } catch {
    // fall through
  }
  throw new InvalidCursorError();
}

/** Given rows fetched with limit + 1, returns the page and the cursor after its last row. */
export function toPage<R, T>(rows: R[], limit: number, key: (row: R) => string, map: (row: R) => T): Page<T> {
  const more = rows.length > limit;
  const pageRows = more ? rows.slice(0, limit) : rows;
  const last = pageRows[pageRows.length - 1];
  return { items: pageRows.map(map), nextCursor: more && last ? encodeCursor(key(last)) : null };
}
