// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Dependencies point one way: cli → connectors → streams → client → protocol; broker → protocol.
 * src/fs (atomic, durable file writes) is a leaf every layer may import; it imports none of them.
 */
const restrictFrom = (...folders) => ({
  patterns: folders.map((folder) => ({
    group: [`**/${folder}/*`, `**/${folder}/index.js`],
    message: `this layer must not import from src/${folder} (see STYLE.md §1)`,
  })),
});

export default tseslint.config(
  {
    ignores: ['dist/', 'node_modules/', '.tools/', 'coverage/', 'examples/seed/', '.venv/', 'test-results/'],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/ban-ts-comment': ['error', { 'ts-expect-error': 'allow-with-description' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/fs/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        restrictFrom('protocol', 'broker', 'client', 'streams', 'connectors', 'cli'),
      ],
    },
  },
  {
    files: ['src/protocol/**'],
    rules: {
      'no-restricted-imports': ['error', restrictFrom('broker', 'client', 'streams', 'connectors', 'cli')],
    },
  },
  {
    // Pulsar's message crypto, shared by the broker and the streams as src/protocol is.
    files: ['src/encryption/**'],
    rules: {
      'no-restricted-imports': ['error', restrictFrom('broker', 'client', 'streams', 'connectors', 'cli')],
    },
  },
  {
    files: ['src/streams/**'],
    rules: { 'no-restricted-imports': ['error', restrictFrom('broker', 'connectors', 'cli')] },
  },
  {
    files: ['src/client/**'],
    rules: { 'no-restricted-imports': ['error', restrictFrom('broker', 'streams', 'connectors', 'cli')] },
  },
  {
    files: ['src/broker/**'],
    rules: { 'no-restricted-imports': ['error', restrictFrom('client', 'streams', 'connectors', 'cli')] },
  },
  {
    files: ['src/sidecar/**'],
    rules: { 'no-restricted-imports': ['error', restrictFrom('broker', 'cli')] },
  },
  { files: ['eslint.config.js'], ...tseslint.configs.disableTypeChecked },
  {
    // Child-process fixtures run the built package with plain Node (no TypeScript loader).
    files: ['test/fixtures/**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      parserOptions: { projectService: false, project: null },
      globals: {
        process: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        AbortController: 'readonly',
      },
    },
  },
);
