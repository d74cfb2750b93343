/**
 * Every signal, query and update, defined once with stable wire names. Dependency-free apart from the
 * workflow SDK's definers, so the API imports it too.
 */
import { defineQuery } from '@temporalio/workflow';
import type { PersonSetupState } from './person-setup.types';

export const personSetupStateQuery = defineQuery<PersonSetupState>('portal.personSetup.state');
