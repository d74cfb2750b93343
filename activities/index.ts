import type { Db } from '../db/database';
import type { PersonSetupInput } from '../workflows/person-setup.types';
import { accessRequestActivities } from './access-requests';
import { lifecycleActivities } from './lifecycle';
import { applyPersonSetup } from './person-setup';
import { planActivities } from './plans';

/** What activities need from the process: injected, so tests pass their own. */
export interface ActivityDeps {
  db: Db;
  /** Decrypts connector credentials and signs callback tokens (PORTAL_SECRET_KEY). */
  secretKey: Buffer;
}

/** Builds the activity implementations bound to their dependencies. */
export function createActivities({ db, secretKey }: ActivityDeps) {
  return {
    applyPersonSetup: (input: PersonSetupInput) => applyPersonSetup(db, input),
    ...accessRequestActivities(db),
    ...lifecycleActivities(db),
    ...planActivities({ db, secretKey }),
  };
}

/** The activity interface workflows proxy (imported there as a type only). */
export type Activities = ReturnType<typeof createActivities>;
