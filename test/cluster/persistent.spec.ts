import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Instance, namespace, sleep, start, stopAll, StoreKind, writeRow } from './harness';

/**
 * Persistent jobs in real processes: a job whose provider holds an open file handle keeps firing
 * after every instance restarted (only a reference to the provider was stored), and a row written
 * into the store by hand, naming a method that is not a job handler, runs nothing and is reported.
 */
describe.each<StoreKind>(['postgres', 'redis'])('persistent jobs on %s', (kind) => {
  let store: ReturnType<typeof namespace>;
  let instances: Instance[] = [];
  let dir: string;
  let env: Record<string, string>;

  beforeEach(() => {
    store = namespace(kind);
    dir = mkdtempSync(join(tmpdir(), 'metronome-audit-'));
    env = { STORE: kind, STORE_URL: store.url, STORE_NAMESPACE: store.name, AUDIT_FILE: join(dir, 'audit.log') };
  });

  afterEach(async () => {
    await stopAll(instances);
    instances = [];
    await store.drop();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  const auditLines = () => readFileSync(env.AUDIT_FILE, 'utf8').trim().split('\n').filter(Boolean);

  it('keep firing after every instance restarts; a hand-written row naming a non-handler runs nothing and raises an event', async () => {
    instances = [new Instance('a', { ...env, ADD_PERSISTENT: '1' }), new Instance('b', env)];
    await Promise.all(instances.map((instance) => instance.waitFor((r) => r.type === 'ready')));
    await instances[1].waitFor((r) => r.type === 'run' && r.job === 'audit');
    await sleep(2_000);
    await stopAll(instances);
    const before = auditLines();
    expect(before.length).toBeGreaterThanOrEqual(2);

    // Every instance is gone; two new ones start, and nobody adds the job again.
    instances = start(['c', 'd'], env);
    await Promise.all(instances.map((instance) => instance.waitFor((r) => r.type === 'ready')));
    await Promise.race(instances.map((instance) => instance.waitFor((r) => r.type === 'run' && r.job === 'audit', 15_000)));

    await writeRow(kind, store, { name: 'evil', trigger: { every: 1_000 }, target: { provider: 'AuditLog', method: 'truncate' }, args: [], options: {} });
    const rejected = await Promise.race(instances.map((instance) => instance.waitFor((r) => r.type === 'rejected' && r.job === 'evil', 15_000)));
    expect(rejected.reason).toBe(
      'Job "evil" cannot target AuditLog.truncate: the method is not marked @JobHandler() nor scheduled with a decorator. Handlers of AuditLog: "append".',
    );
    await sleep(2_000);
    await stopAll(instances);

    const after = auditLines().slice(before.length);
    expect(after.length).toBeGreaterThanOrEqual(2);
    expect(after.every((line) => / checked [cd]$/.test(line))).toBe(true);
    const ticks = auditLines().map((line) => Number(line.split(' ')[0]));
    expect(new Set(ticks).size).toBe(ticks.length);
    expect(instances.flatMap((instance) => instance.records).some((r) => r.job === 'truncate')).toBe(false);
  }, 90_000);

  it('are paused, resumed, rescheduled and removed on every instance within about a second', async () => {
    const a = new Instance('a', { ...env, ADD_PERSISTENT: '1' });
    instances = [a];
    await a.waitFor((r) => r.type === 'ready');
    const b = new Instance('b', env);
    instances.push(b);
    // b loads the job from the store as it starts.
    expect((await b.waitFor((r) => r.type === 'ready')).jobs).toContain('audit');
    const within = async (command: string, type: string) => {
      const sent = Date.now();
      a.send(command);
      const seen = await b
        .waitFor((r) => r.type === type && r.job === 'audit' && r.at >= sent, 5_000)
        .catch((error: Error) => {
          throw new Error(
            `after "${command}": ${error.message}; b said: ${JSON.stringify(b.records.filter((r) => r.at >= sent - 3_000 && r.type !== 'run').map((r) => [r.at - sent, r.type, r.job, r.reason]))}`,
          );
        });
      return seen.at - sent;
    };
    expect(await within('pause audit', 'job.paused')).toBeLessThan(1_500);
    expect(await within('resume audit', 'job.resumed')).toBeLessThan(1_500);
    // A new trigger replaces the job on every instance.
    expect(await within('reschedule audit 500', 'job.added')).toBeLessThan(1_500);
    expect(await within('remove audit', 'job.removed')).toBeLessThan(1_500);
  }, 60_000);
});
