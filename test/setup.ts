// Root hooks for the whole run (loaded first by .mocharc.cjs).
import { setUpTestEnv, tearDownTestEnv } from './support/env';

before(async function () {
  // The first run on a fresh machine may build the Temporal CLI with Go: allow for it.
  this.timeout(15 * 60_000);
  await setUpTestEnv();
});

after(async function () {
  this.timeout(60_000);
  await tearDownTestEnv();
});
