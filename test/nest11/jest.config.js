/**
 * The end-to-end suite again, on NestJS 11: the peer range is `^11.0.0 || ^12.0.0` and the
 * development dependencies are 12. Run it with `npm run test:nest11` (`npm test` runs it after
 * the main suite); `node test/nest11/install.js` installs NestJS 11 here from the lockfile.
 *
 * Extends the main configuration, so whatever it sets applies here too. Every `@nestjs/*` package
 * the suite loads is mapped to the copy in test/nest11/node_modules; their dependencies resolve from
 * there as well. `rxjs` and `reflect-metadata` are mapped to the copies the library and the tests
 * load, so that one copy of each is shared. NestJS 11 is CommonJS: it is left untransformed.
 * nest-versions.check.ts (a name the main run does not match) checks that 11 is what is loaded.
 */
const path = require('node:path');
const base = require('../../jest.config.js');

const root = path.resolve(__dirname, '../..');
const nest11 = path.join(__dirname, 'node_modules');
const packages = ['common', 'core', 'microservices', 'platform-express', 'platform-fastify', 'testing'];

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  displayName: 'nest11',
  rootDir: root,
  roots: ['<rootDir>/test/e2e', '<rootDir>/test/nest11'],
  testMatch: ['<rootDir>/test/e2e/**/*.spec.ts', '<rootDir>/test/nest11/*.check.ts'],
  moduleNameMapper: {
    ...base.moduleNameMapper,
    [`^@nestjs/(${packages.join('|')})(/.*)?$`]: `${nest11}/@nestjs/$1$2`,
    '^(rxjs|reflect-metadata)(/.*)?$': `${root}/node_modules/$1$2`,
  },
  transformIgnorePatterns: [...(base.transformIgnorePatterns ?? []), '/test/nest11/node_modules/'],
};
