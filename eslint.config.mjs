// Lint: TypeScript recommended rules everywhere, plus the determinism fence around workflows/.
import tseslint from 'typescript-eslint';

const ioModules = [
  'fs', 'fs/*', 'path', 'crypto', 'http', 'https', 'net', 'tls', 'dns', 'child_process', 'os', 'worker_threads',
  'pg', 'kysely', 'kysely/*', 'express', 'pino', 'pino-http', 'undici', 'axios', '@electric-sql/pglite',
  '@temporalio/client', '@temporalio/worker', '@temporalio/activity', '@temporalio/testing',
];

export default tseslint.config(
  { ignores: ['node_modules/**', '.data/**', 'bench/results/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no I/O, no Node built-ins, and activities only
    // as types (reached through proxyActivities). Type-only imports are allowed.
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [],
        patterns: [
          { group: ['node:*', ...ioModules], message: 'workflows/ must stay deterministic: no I/O modules.', allowTypeImports: true },
          { group: ['../activities', '../activities/*', '../db', '../db/*', '../api', '../api/*', '../connectors', '../connectors/*', '../workers', '../workers/*'], message: 'workflows/ may import activities, db, api and connectors only as types.', allowTypeImports: true },
        ],
      }],
    },
  },
);
