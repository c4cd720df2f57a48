/**
 * TypeScript is compiled by ts-jest file by file (decorators and their metadata as `tsc` emits
 * them); types are checked once for the whole project by `npm run typecheck`.
 * NestJS 12 ships as ES modules, which Jest's CommonJS runtime cannot load on Node 20, so those
 * packages are turned into CommonJS by Babel.
 * The global setup finds PostgreSQL and Redis for the store tests, starting servers of the run's
 * own if none answers (Jest compiles it with the transform below, as it does the tests).
 */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/lib', '<rootDir>/test'],
  testMatch: ['**/*.spec.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }],
    '^.+\\.m?js$': [
      'babel-jest',
      {
        babelrc: false,
        configFile: false,
        plugins: [
          require.resolve('./test/support/babel-local-require.js'),
          'babel-plugin-transform-import-meta',
          '@babel/plugin-transform-dynamic-import',
          '@babel/plugin-transform-modules-commonjs',
        ],
      },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!(@nestjs|@fastify)/)'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
};
