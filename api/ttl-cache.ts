import type { Db } from '../db/database';

/** A small per-tenant cache whose entries expire after `ttlMs` (loads are shared while in flight). */
export class TtlCache<T> {
  private readonly entries = new Map<string, { at: number; value: Promise<T> }>();

  constructor(private readonly ttlMs: number, private readonly load: (db: Db, tenantId: string, extra?: unknown) => Promise<T>) {}

  get(db: Db, tenantId: string, extra?: unknown): Promise<T> {
    const hit = this.entries.get(tenantId);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.value;
    const value = this.load(db, tenantId, extra);
    this.entries.set(tenantId, { at: Date.now(), value });
    value.catch(() => this.entries.delete(tenantId));
    return value;
  }

  delete(tenantId: string): void {
    this.entries.delete(tenantId);
  }
}
