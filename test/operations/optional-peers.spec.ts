/**
 * The operations features' peer dependencies are optional: without `@nestjs/terminus`,
 * `prom-client` and `@opentelemetry/api`, the package entry loads, and each feature says, when
 * used, which package to install.
 */
const PEERS = ['@nestjs/terminus', 'prom-client', '@opentelemetry/api'];

/** Loads the package entry as if the peers were not installed. */
function entryWithoutPeers(): typeof import('../../lib') {
  let entry: typeof import('../../lib') | undefined;
  jest.isolateModules(() => {
    for (const name of PEERS) {
      jest.doMock(name, () => {
        throw Object.assign(new Error(`Cannot find module '${name}' from 'lib/operations/peer.ts'`), { code: 'MODULE_NOT_FOUND' });
      });
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    entry = require('../../lib') as typeof import('../../lib');
  });
  return entry!;
}

describe('without the optional peers of the operations features', () => {
  afterEach(() => {
    for (const name of PEERS) jest.dontMock(name);
  });

  it('the package entry loads', () => {
    const entry = entryWithoutPeers();
    expect(typeof entry.ScheduleModule.forRoot).toBe('function');
    expect(typeof entry.SchedulerHealthIndicator).toBe('function');
  });

  it('each feature throws PeerDependencyMissingError, saying what to install', () => {
    const entry = entryWithoutPeers();
    expect(() => entry.ScheduleMetricsModule.forRoot()).toThrow(entry.PeerDependencyMissingError);
    expect(() => entry.ScheduleMetricsModule.forRoot()).toThrow(
      'ScheduleMetricsModule needs the package "prom-client", which is not installed; run: npm install prom-client',
    );
    expect(() => entry.ScheduleTracingModule.forRoot()).toThrow(
      'ScheduleTracingModule needs the package "@opentelemetry/api", which is not installed; run: npm install @opentelemetry/api',
    );
    expect(() => new entry.SchedulerHealthIndicator({} as never, {} as never)).toThrow(
      'SchedulerHealthIndicator needs the package "@nestjs/terminus", which is not installed; run: npm install @nestjs/terminus',
    );
    try {
      entry.ScheduleMetricsModule.forRoot();
    } catch (error) {
      expect(error).toMatchObject({ code: 'PEER_DEPENDENCY_MISSING', packageName: 'prom-client', feature: 'ScheduleMetricsModule' });
    }
  });

  it('an error of the peer other than its absence is not taken for it', () => {
    let entry: typeof import('../../lib') | undefined;
    jest.isolateModules(() => {
      jest.doMock('prom-client', () => {
        throw new Error('prom-client failed to initialize');
      });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      entry = require('../../lib') as typeof import('../../lib');
    });
    expect(() => entry!.ScheduleMetricsModule.forRoot()).toThrow('prom-client failed to initialize');
  });
});
