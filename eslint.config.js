// Lint: TypeScript's recommended rules everywhere, plus the determinism rule of Temporal workflows:
// code under workflows/ may not import Node built-ins, the stores (nor the arrow/, ingest/, pipelines/
// and retrieval/ rooms that sit on them), or side-effecting packages.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = builtinModules.flatMap((m) => [m, `node:${m}`]);

export default tseslint.config(
  { ignores: ['node_modules/**', '.granary/**', 'dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({
            name,
            message: 'Workflow code must be deterministic: no Node built-ins (do I/O in an activity).',
          })),
          patterns: [
            {
              group: ['**/stores/**', '**/stores', '**/arrow/**', '**/ingest/**', '**/pipelines/**', '**/retrieval/**', '**/activities/*', '!**/activities/index.ts'],
              message: 'Workflow code may not touch the stores or the rooms that read and write them; import activity types only: import type * as activities.',
              allowTypeImports: true,
            },
            {
              group: ['ioredis', 'pg', 'pg-*', '@aws-sdk/*', 'parquet-wasm', 'apache-arrow', '@temporalio/client', '@temporalio/worker', '@temporalio/activity', '@temporalio/testing'],
              message: 'Workflow code may not import side-effecting packages (do I/O in an activity).',
            },
          ],
        },
      ],
    },
  },
);
