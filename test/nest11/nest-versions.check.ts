import * as path from 'node:path';
import { SchedulerRegistry } from '../../lib';
import { startApp } from '../support/nest';

// No `@nestjs/*` import here: TypeScript would resolve it to test/nest11/node_modules, and the
// type check of the project would then depend on whether NestJS 11 is installed.

const NEST11 = path.join(__dirname, 'node_modules');
const ROOT_MODULES = path.resolve(__dirname, '../../node_modules');

describe('the NestJS 11 run of the end-to-end suite', () => {
  it.each(['common', 'core', 'microservices', 'platform-express', 'platform-fastify', 'testing'])('loads @nestjs/%s 11 from test/nest11', (name) => {
    const id = `@nestjs/${name}`;
    expect(require.resolve(id)).toContain(`${NEST11}${path.sep}`);
    expect((require(`${id}/package.json`) as { version: string }).version).toMatch(/^11\./);
  });

  it.each(['rxjs', 'reflect-metadata'])('shares one copy of %s with the library', (id) => {
    expect(require.resolve(id)).toContain(`${ROOT_MODULES}${path.sep}`);
  });

  it('starts the module on NestJS 11', async () => {
    const { app } = await startApp([]);
    expect(app.get(SchedulerRegistry).listJobs()).toEqual([]);
    await app.close();
  });
});
