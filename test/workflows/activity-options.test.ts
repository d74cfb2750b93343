import { expect } from 'chai';
import { ActivityProfiles, LocalActivityProfiles } from '../../workflows/activity-options';
import { nonRetryableFailureTypes } from '../../workflows/failures';

describe('activity option profiles', () => {
  it('retries database writes for as long as the database is away, and refusals never', () => {
    // Long-lived workflows (lifecycles, time-bound grants) would lose their state if a write gave up.
    for (const profile of [ActivityProfiles.databaseWrite, LocalActivityProfiles.databaseWrite]) {
      expect(profile.retry).to.not.have.property('maximumAttempts');
      expect(profile.retry.maximumInterval).to.equal('30 seconds');
      expect(profile.retry.nonRetryableErrorTypes).to.deep.equal(nonRetryableFailureTypes);
    }
  });

  it('bounds connector calls: a vendor that keeps failing ends the step with evidence', () => {
    expect(ActivityProfiles.connectorCall.retry.maximumAttempts).to.equal(5);
  });
});
