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
        {
          patterns: [
            {
              group: ['../cli/*', '../config/*', '../routes/*', '../modes/*', '../framing/*'],
              message: 'layers import only downwards: server/ and client/ are the library core.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/routes/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../cli/*', '../config/*', '../modes/*'],
              message: 'routes/ knows no mode and no CLI.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/config/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['../cli/*'], message: 'config/ never imports the CLI.' }] },
      ],
    },
  },
  {
    // A mode imports its own folder, modes/common and the layers below; never the CLI or another mode
    // (gwsocket's command line serves echo too, so pipe/ may use echo/).
    files: ['src/modes/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['../../cli/*', '../../config/*'], message: 'modes/ never import the CLI or config/.' },
          ],
        },
      ],
    },
  },
  {
    files: [
      'src/modes/program/*.ts',
      'src/modes/socket/*.ts',
      'src/modes/echo/*.ts',
      'src/modes/common/*.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['../../cli/*', '../../config/*'], message: 'modes/ never import the CLI or config/.' },
            {
              group: ['../pipe/*', '../program/*', '../socket/*', '../echo/*', '!../common/*'],
              message: 'a mode lives in its own folder: share through modes/common/.',
            },
          ],
        },
      ],
    },
  },
);
