/**
 * Tests are compiled with SWC (decorators and their metadata as TypeScript emits them).
 * NestJS 12 ships as ES modules, which Jest's CommonJS runtime cannot require on Node 20,
 * so those packages are compiled to CommonJS too. Types are checked by `npm run typecheck`.
 */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/lib', '<rootDir>/test'],
  testMatch: ['**/*.spec.ts', '**/*.test.ts'],
  transform: {
    '^.+\\.(t|j|mj)s$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
          target: 'es2022',
        },
        module: { type: 'commonjs' },
      },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!(@nestjs|@fastify)/)'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
};
