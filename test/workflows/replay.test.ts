import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { Worker } from '@temporalio/worker';
import * as workflows from '../../workflows';
import { testEnv } from '../support/env';

const historiesDir = join(__dirname, '..', '..', 'workflows', 'histories');

describe('workflow determinism', () => {
  const workflowTypes = readdirSync(historiesDir);

  it('should have committed histories for every exported workflow', () => {
    expect(workflowTypes).to.include.members(Object.keys(workflows));
  });

  for (const type of workflowTypes) {
    for (const file of readdirSync(join(historiesDir, type)).filter((f) => f.endsWith('.json'))) {
      describe(`${type}/${file}`, () => {
        it('should replay against the current workflow code without nondeterminism', async () => {
          const history: unknown = JSON.parse(readFileSync(join(historiesDir, type, file), 'utf8'));
          await Worker.runReplayHistory({ workflowBundle: testEnv().workflowBundle }, history, `${type}-${file}`);
        });
      });
    }
  }
});
