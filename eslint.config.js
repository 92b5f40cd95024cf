// Type-checked typescript-eslint on src, test and bench: floating promises and non-exhaustive
// switches are errors; the domain may not import the EventStoreDB client or the embedded server
// (only src/eventstore/esdb, src/esdb-server and the composition root may).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'eslint.config.js', 'test/package/host/**'] }, // the host is type-checked by the package test, against the installed package
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-expressions': ['error', { allowShortCircuit: true }],
    },
  },
  {
    files: ['src/correlation/**', 'src/candidates/**', 'src/promotion/**', 'src/incidents/**', 'src/authority/**', 'src/orchestration/**', 'src/projections/**', 'src/replay/**', 'src/shared/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@eventstore/db-client', '@eventstore/db-client/*'], message: 'Only src/eventstore/esdb talks to EventStoreDB.' },
            { group: ['**/esdb-server/**', '**/eventstore/esdb/**'], message: 'The domain depends on the EventStore port only.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/**', 'test/**', 'bench/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { paths: [{ name: 'class-validator', message: 'Import it from src/shared/class-validator.ts (its bundle loads in a fifth of the time).', allowTypeImports: true }] },
      ],
    },
  },
  {
    files: ['test/**', 'bench/**'],
    rules: {
      '@typescript-eslint/no-unused-expressions': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
