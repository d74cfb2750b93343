import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { migrateToLatest } from '../../db/connect';
import { migrations } from '../../db/migrations';
import { testEnv } from '../support/env';

describe('migrations', () => {
  describe('when run again on a migrated database', () => {
    it('should apply nothing', async () => {
      expect(await migrateToLatest(testEnv().db)).to.deep.equal([]);
    });
  });

  describe('the migration index', () => {
    it('should list every migration file, timestamp-named, in order', () => {
      const files = readdirSync(join(__dirname, '..', '..', 'db', 'migrations')).filter((f) => f !== 'index.ts').map((f) => f.replace(/\.ts$/, ''));
      expect(Object.keys(migrations)).to.deep.equal(files.sort());
      for (const name of files) expect(name).to.match(/^\d{14}_[a-z0-9_]+$/);
    });
  });
});
