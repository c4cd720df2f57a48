import { Client } from 'pg';
import { OwnServer, ownPostgres, ownRedis } from '../support/servers';
import { uniqueName } from '../support/services';
import { Instance, RunRecord, StoreKind, sleep } from './harness';

/**
 * The store is not there when the application starts, tried as a new user would: a real process
 * of test/fixtures/cluster-app.cjs, a store server of the test's own that starts some seconds
 * later (or a database that does not exist yet). Start-up does not wait for the store longer than
 * `cluster.timeoutMs`; the log says at once which server cannot be reached (never its password);
 * the process stays up, every tick of the outage is reported missed; and once the store is there,
 * the jobs run.
 */
const PASSWORD = 'hunter2';

/** `url` with a password in it, which no log line may show. */
function withPassword(url: string): string {
  const parsed = new URL(url);
  parsed.password = PASSWORD;
  return parsed.toString();
}

/** A log line of the application, as the fixture writes it with LOG_RECORDS=1. */
type LogRecord = RunRecord & { level: string; message: string };

const errorsOf = (instance: Instance) => (instance.records as LogRecord[]).filter((r) => r.type === 'log' && r.level === 'error');
const alive = (instance: Instance) => Promise.race([instance.exited.then(() => false), sleep(0).then(() => true)]);

/**
 * What every such start must show: `ready` (start-up did not block on the store), the error line
 * naming `address` logged during start-up, before `ready`, with no password; the process still up
 * seconds later, with missed ticks reported meanwhile and nothing run. Returns when the checks are done.
 */
async function expectStartedWithoutStore(instance: Instance, address: string, detail?: string): Promise<void> {
  const ready = await instance.waitFor((r) => r.type === 'ready', 20_000);
  const firstError = errorsOf(instance)[0];
  expect(firstError?.message).toContain(`(at ${address}`);
  if (detail) expect(firstError?.message).toContain(detail);
  expect(instance.records.indexOf(firstError)).toBeLessThan(instance.records.indexOf(ready));
  expect(instance.records.filter((r) => JSON.stringify(r).includes(PASSWORD))).toEqual([]);
  expect(ready.jobs).toEqual(expect.arrayContaining(['cron-a', 'interval-a']));

  await sleep(4_000);
  expect(await alive(instance)).toBe(true);
  expect(instance.records.filter((r) => r.type === 'run')).toEqual([]);
  // Every second's tick of cron-a came and could not be claimed: reported missed, not dropped silently.
  expect(instance.records.filter((r) => r.type === 'missed' && r.job === 'cron-a' && r.reason === 'unclaimed').length).toBeGreaterThanOrEqual(2);
}

/** Once the store is there, the jobs run. */
async function expectRunsAfter(instance: Instance, since: number): Promise<void> {
  await instance.waitFor((r) => r.type === 'run' && r.job === 'cron-a' && r.tick! > since, 30_000);
  expect(await alive(instance)).toBe(true);
}

describe.each([
  ['Redis', 'redis' as StoreKind, () => ownRedis(), () => `${uniqueName('metronome-startup')}:`],
  ['PostgreSQL', 'postgres' as StoreKind, () => ownPostgres(), () => uniqueName('metronome_startup')],
])('when %s is not up yet at start-up', (_label, kind, ownServer, namespace) => {
  let server: OwnServer;
  let instance: Instance | undefined;

  beforeAll(async () => {
    server = await ownServer();
    await server.stop();
  }, 60_000);

  afterEach(async () => {
    instance?.kill('SIGTERM');
    await instance?.exited;
    instance = undefined;
  }, 30_000);

  afterAll(() => server.destroy());

  it('starts at once, names the server it cannot reach, stays up reporting missed ticks, and runs the jobs once it is up', async () => {
    const url = new URL(server.url);
    instance = new Instance('late', { STORE: kind, STORE_URL: withPassword(server.url), STORE_NAMESPACE: namespace(), LOG_RECORDS: '1' });
    await expectStartedWithoutStore(instance, `${url.hostname}:${url.port}`);
    const up = Date.now();
    await server.start();
    await expectRunsAfter(instance, up);
  }, 90_000);
});

describe('when the PostgreSQL database named does not exist yet at start-up', () => {
  let server: OwnServer;
  let instance: Instance | undefined;

  beforeAll(async () => {
    server = await ownPostgres();
  }, 60_000);

  afterAll(async () => {
    instance?.kill('SIGTERM');
    await instance?.exited;
    server.destroy();
  }, 30_000);

  it('says so, naming the server and the database, stays up, and runs the jobs once it is created', async () => {
    const database = uniqueName('not_yet');
    const url = new URL(server.url);
    url.pathname = `/${database}`;
    instance = new Instance('no-db', { STORE: 'postgres', STORE_URL: withPassword(url.toString()), STORE_NAMESPACE: 'metronome', LOG_RECORDS: '1' });
    await expectStartedWithoutStore(instance, `${url.hostname}:${url.port}/${database}`, `database "${database}" does not exist`);

    const admin = new Client({ connectionString: server.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${database}"`);
    await admin.end();
    await expectRunsAfter(instance, Date.now());
  }, 90_000);
});
