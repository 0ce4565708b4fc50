import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Imports a layer must not make: dependencies point http → domain ← ldap adapter. */
const forbid = (...groups) => ({
  'no-restricted-imports': [
    'error',
    { patterns: groups.map(([group, message]) => ({ group: [group], message })) },
  ],
});
const DOMAIN =
  'the domain imports neither Koa, ldapts, nor the HTTP or LDAP layers: it declares interfaces they implement';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.data/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    files: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
    },
  },
  {
    files: ['src/attributes/**/*.ts', 'src/values/**/*.ts'],
    rules: forbid(
      ['koa', DOMAIN],
      ['@koa/*', DOMAIN],
      ['ldapts', DOMAIN],
      ['**/http/*', DOMAIN],
      ['**/ldap/*', DOMAIN],
    ),
  },
  {
    files: ['src/http/**/*.ts'],
    rules: forbid(
      ['ldapts', 'HTTP speaks to the directory only through the domain'],
      ['**/ldap/*', 'HTTP speaks to the directory only through the domain'],
    ),
  },
  {
    files: ['src/ldap/**/*.ts'],
    rules: forbid(
      ['koa', 'the LDAP adapter knows nothing of HTTP'],
      ['**/http/*', 'the LDAP adapter knows nothing of HTTP'],
    ),
  },
);
