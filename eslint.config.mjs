// @ts-check
/**
 * Lint: ESLint's and typescript-eslint's recommended rules; formatting is Prettier's (`npm run
 * format`), so the rules that would argue with it are off.
 */
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'dist-sample/', 'dist-soak/', 'dist-bench/', 'coverage/', 'bench/.deps/', 'test/nest11/node_modules/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    files: ['**/*.cjs', '**/*.js'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['test/**/*.ts'],
    languageOptions: { globals: { ...globals.jest } },
  },
  {
    // The README's examples, as written there: signatures that show what a handler may take.
    files: ['test/package/app/src/**/*.ts'],
    rules: { '@typescript-eslint/no-unused-vars': 'off' },
  },
  {
    // Packages loaded by name at run time (the implementation under measure, optional peers).
    files: ['bench/**/*.ts', 'test/nest11/*.ts', 'test/package/app/src/fake-jest.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
);
