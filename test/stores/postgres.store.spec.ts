import { Pool } from 'pg';
import { StoreUnavailableError } from '../../lib';
import { PostgresJobStore } from '../../lib/stores/postgres.store';
import { PG_URL, uniqueName } from '../support/services';
import { claim, describeJobStore, finished } from './conformance';

describeJobStore('PostgresJobStore', () => {
  const schema = uniqueName('metronome_test');
  const opened: PostgresJobStore[] = [];
  return {
    open: async () => {
      const store = new PostgresJobStore({ connectionString: PG_URL, schema, tablePrefix: 't_' });
      opened.push(store);
      await store.connect();
      return store;
    },
    cleanup: async () => {
      await Promise.all(opened.map((store) => store.close()));
      const pool = new Pool({ connectionString: PG_URL });
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    },
  };
});

describe('PostgresJobStore', () => {
  it('refuses schema and prefix names that are not safe identifiers', () => {
    expect(() => new PostgresJobStore({ connectionString: PG_URL, schema: 'x"; DROP SCHEMA public; --' })).toThrow(StoreUnavailableError);
    expect(() => new PostgresJobStore({ connectionString: PG_URL, tablePrefix: 'a b' })).toThrow(
      'The job store (postgres) is unavailable: tablePrefix "a b" is not a safe name (letters, digits and _, up to 48)',
    );
  });

  it('uses a pool it is given, and leaves it open', async () => {
    const pool = new Pool({ connectionString: PG_URL });
    const schema = uniqueName('metronome_test');
    const store = new PostgresJobStore({ pool, schema });
    await store.connect();
    await store.close();
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    await pool.end();
  });

  it('does not wait for a row another transaction holds: that claim comes back locked, the others are decided', async () => {
    const schema = uniqueName('metronome_test');
    const store = new PostgresJobStore({ connectionString: PG_URL, schema });
    await store.connect();
    await store.register([
      { name: 'a', anchor: 0, fingerprint: 'every 1000 ms' },
      { name: 'b', anchor: 0, fingerprint: 'every 1000 ms' },
    ]);
    const pool = new Pool({ connectionString: PG_URL });
    const locker = await pool.connect();
    await locker.query('BEGIN');
    await locker.query(`UPDATE "${schema}"."jobs" SET paused = false WHERE name = 'a'`);
    expect(await store.claim('i1', [claim('a', 1_000), claim('b', 1_000)])).toEqual([{ status: 'locked' }, { status: 'won', fencingToken: 1 }]);
    await locker.query('COMMIT');
    locker.release();
    expect(await store.claim('i1', [claim('a', 1_000)])).toEqual([{ status: 'won', fencingToken: 2 }]);
    await store.close();
    await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    await pool.end();
  });

  it('does not take for unstarted a run that a version without start marks claimed after a lease claimed ahead', async () => {
    // Rolling deploy: a lease claimed ahead ran out unstarted; an older version gave it up (clearing
    // the lease columns it knows) and claimed the next tick, which it ran. Its lease is not unstarted:
    // when it runs out, it is given up (at-most-once), not taken over and run a second time.
    const schema = uniqueName('metronome_test');
    const store = new PostgresJobStore({ connectionString: PG_URL, schema });
    await store.connect();
    await store.register([{ name: 'job', anchor: 0, fingerprint: 'every 1000 ms' }]);
    expect(await store.claim('new', [claim('job', 1_000, { ahead: true })])).toEqual([{ status: 'won', fencingToken: 1 }]);
    const pool = new Pool({ connectionString: PG_URL });
    await pool.query(
      `UPDATE "${schema}"."jobs" SET last_tick = 2000, fencing = 2, lease_owner = 'old', lease_until = 1, lease_token = 2, lease_tick = 2000,
         lease_from = 2000, lease_attempt = 1, lease_delivery = 'at-most-once', lease_handed = false WHERE name = 'job'`,
    );
    const sweep = await store.recover('new', 60_000, new Set(['job']));
    expect(sweep.recovered).toEqual([]);
    expect(sweep.abandoned).toEqual([{ job: 'job', tick: 2_000, from: 2_000, attempt: 1, fencingToken: 2, previousToken: 2, owner: 'old' }]);
    await store.close();
    await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    await pool.end();
  });

  it("reports a tick queued behind a lease that a version without cluster-wide 'queue' released, as the next claim clears it", async () => {
    // Rolling deploy: this version queued tick 2000 behind the lease of tick 1000; the older
    // version that held that lease released it, clearing only the lease columns it knows, so the
    // queued tick was not handed on. The next claim wins its own tick and says tick 2000 went.
    const schema = uniqueName('metronome_test');
    const store = new PostgresJobStore({ connectionString: PG_URL, schema });
    await store.connect();
    await store.register([{ name: 'job', anchor: 0, fingerprint: 'every 1000 ms' }]);
    expect(await store.claim('old', [claim('job', 1_000)])).toEqual([{ status: 'won', fencingToken: 1 }]);
    expect(await store.claim('new', [claim('job', 2_000, { queue: true })])).toEqual([{ status: 'queued' }]);
    const pool = new Pool({ connectionString: PG_URL });
    await pool.query(
      `UPDATE "${schema}"."jobs" SET lease_owner = NULL, lease_until = NULL, lease_token = NULL, lease_tick = NULL, lease_from = NULL,
         lease_attempt = NULL, lease_delivery = NULL, lease_handed = false WHERE name = 'job'`,
    );
    expect(await store.claim('new', [claim('job', 3_000, { queue: true })])).toEqual([{ status: 'won', fencingToken: 2, droppedQueued: 2_000 }]);
    expect((await pool.query(`SELECT lease_queued FROM "${schema}"."jobs" WHERE name = 'job'`)).rows).toEqual([{ lease_queued: null }]);
    // Said once: the claim after it reports nothing more.
    await store.release([{ job: 'job', fencingToken: 2 }]);
    expect(await store.claim('new', [claim('job', 4_000, { queue: true })])).toEqual([{ status: 'won', fencingToken: 3 }]);
    await store.close();
    await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    await pool.end();
  });

  it('creates one fresh schema safely from many instances at once, whatever their table prefixes', async () => {
    const schema = uniqueName('metronome_test');
    const stores = Array.from({ length: 12 }, (_, i) => new PostgresJobStore({ connectionString: PG_URL, schema, tablePrefix: `p${i % 3}_` }));
    await Promise.all(stores.map((store) => store.connect()));
    await Promise.all(stores.map((store) => store.close()));
    const pool = new Pool({ connectionString: PG_URL });
    const { rows } = await pool.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`, [schema]);
    expect(rows.map((row) => row.table_name)).toEqual([
      'p0_instances',
      'p0_jobs',
      'p0_meta',
      'p0_runs',
      'p1_instances',
      'p1_jobs',
      'p1_meta',
      'p1_runs',
      'p2_instances',
      'p2_jobs',
      'p2_meta',
      'p2_runs',
    ]);
    await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    await pool.end();
  });

  it('leaves a schema made by a newer version alone', async () => {
    const schema = uniqueName('metronome_test');
    const store = new PostgresJobStore({ connectionString: PG_URL, schema });
    await store.connect();
    const pool = new Pool({ connectionString: PG_URL });
    await pool.query(`UPDATE "${schema}"."meta" SET value = '99' WHERE key = 'version'`);
    await store.connect();
    expect((await pool.query(`SELECT value FROM "${schema}"."meta" WHERE key = 'version'`)).rows).toEqual([{ value: '99' }]);
    await store.close();
    await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    await pool.end();
  });

  it('gives a run whose statement committed after a later one once, when it shows up', async () => {
    // Two instances write runs at once: the first takes its id, the second a later one and commits
    // first. A reader that went past the first id finds it at a later call, once.
    const schema = uniqueName('metronome_test');
    const store = new PostgresJobStore({ connectionString: PG_URL, schema });
    await store.connect();
    const start = await store.runsSince(null, 100);
    const pool = new Pool({ connectionString: PG_URL });
    const slow = await pool.connect();
    await slow.query('BEGIN');
    await slow.query(
      `INSERT INTO "${schema}"."runs" (job, instance, scheduled_at, started_at, duration_ms, attempt, outcome) VALUES ('slow', 'i2', 1000, 1003, 25.5, 1, 'succeeded')`,
    );
    await store.recordRuns([finished('fast', 2_000)]);
    const first = await store.runsSince(start.cursor, 100);
    expect(first.runs).toEqual([finished('fast', 2_000)]);
    await slow.query('COMMIT');
    slow.release();
    const second = await store.runsSince(first.cursor, 100);
    expect(second.runs).toEqual([finished('slow', 1_000, { instance: 'i2' })]);
    expect((await store.runsSince(second.cursor, 100)).runs).toEqual([]);
    await store.close();
    await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    await pool.end();
  });

  it('migrates a schema made by the version before the run history: releases of both versions work on it', async () => {
    const schema = uniqueName('metronome_test');
    const pool = new Pool({ connectionString: PG_URL });
    const older = new PostgresJobStore({ connectionString: PG_URL, schema });
    await older.connect();
    // As the version before left it: no runs table, version 8.
    await pool.query(`DROP TABLE "${schema}"."runs"; UPDATE "${schema}"."meta" SET value = '8' WHERE key = 'version'`);
    await older.register([{ name: 'job', anchor: 0, fingerprint: 'every 1000 ms' }]);
    const store = new PostgresJobStore({ connectionString: PG_URL, schema });
    await store.connect();
    expect((await pool.query(`SELECT value FROM "${schema}"."meta" WHERE key = 'version'`)).rows).toEqual([{ value: '10' }]);
    // Releases as before, and the run history beside them.
    expect(await store.claim('old', [claim('job', 1_000)])).toEqual([{ status: 'won', fencingToken: 1 }]);
    expect(await store.release([{ job: 'job', fencingToken: 1 }])).toBe(0);
    expect(await store.claim('new', [claim('job', 2_000)])).toEqual([{ status: 'won', fencingToken: 2 }]);
    expect(await store.release([{ job: 'job', fencingToken: 2 }])).toBe(0);
    await store.recordRuns([finished('job', 2_000, { instance: 'new' })]);
    expect(await store.runHistory('job', 10)).toEqual([finished('job', 2_000, { instance: 'new' })]);
    await Promise.all([older.close(), store.close()]);
    await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    await pool.end();
  });

  it('refuses a historySize that is not a whole number from 0 to 1000, naming it', () => {
    expect(() => new PostgresJobStore({ connectionString: PG_URL, historySize: 2.5 })).toThrow(
      'The job store (postgres) is unavailable: historySize 2.5 is not a whole number from 0 to 1000',
    );
  });

  it('writes no run when its historySize is 0', async () => {
    const schema = uniqueName('metronome_test');
    const store = new PostgresJobStore({ connectionString: PG_URL, schema, historySize: 0 });
    await store.connect();
    await store.recordRuns([finished('job', 1_000)]);
    expect(await store.runHistory('job', 10)).toEqual([]);
    const pool = new Pool({ connectionString: PG_URL });
    expect((await pool.query(`SELECT count(*)::int AS count FROM "${schema}"."runs"`)).rows).toEqual([{ count: 0 }]);
    await store.close();
    await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    await pool.end();
  });

  it('reports a server it cannot reach as StoreUnavailableError', async () => {
    const store = new PostgresJobStore({ connectionString: 'postgres://postgres@127.0.0.1:1/test' });
    await expect(store.connect()).rejects.toThrow(StoreUnavailableError);
    await store.close();
  });
});
