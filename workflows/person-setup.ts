import { proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { ActivityProfiles } from './activity-options';
import { personSetupStateQuery } from './messages';
import type { PersonSetupInput, PersonSetupResult, PersonSetupState } from './person-setup.types';

const { applyPersonSetup } = proxyActivities<Activities>(ActivityProfiles.databaseWrite);

/**
 * Sets a newly created person up: their tenant membership with profile, initial group memberships, the
 * access edges those imply and the audit events, all written by one activity in one transaction.
 * The first end-to-end path through Temporal; joiner lifecycles replace it.
 */
export async function personSetup(input: PersonSetupInput): Promise<PersonSetupResult> {
  const state: PersonSetupState = { status: 'running', result: null, failure: null };
  setHandler(personSetupStateQuery, () => state);

  try {
    state.result = await applyPersonSetup(input);
    state.status = 'completed';
    return state.result;
  } catch (err) {
    state.status = 'failed';
    state.failure = err instanceof Error ? err.message : String(err);
    // An ActivityFailure is a TemporalFailure: rethrown, it fails the run with the activity's typed cause.
    throw err;
  }
}
