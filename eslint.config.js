// Lint rules. The layering rule keeps protocol/ sans-I/O: it may import node:crypto and node:buffer only.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['src/protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*', '!node:crypto', '!node:buffer'], message: 'protocol/ is sans-I/O.' },
            { group: ['../*'], message: 'protocol/ imports nothing from the layers above it.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/server/**/*.ts', 'src/client/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['../cli/*', '../bridges/*'], message: 'layers import only downwards.' }] },
      ],
    },
  },
);
