import { Pool } from 'pg';
import { StoreUnavailableError } from '../../lib';
import { PostgresJobStore } from '../../lib/stores/postgres.store';
import { PG_URL, uniqueName } from '../support/services';
import { claim, describeJobStore } from './conformance';

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
      'p1_instances',
      'p1_jobs',
      'p1_meta',
      'p2_instances',
      'p2_jobs',
      'p2_meta',
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

  it('reports a server it cannot reach as StoreUnavailableError', async () => {
    const store = new PostgresJobStore({ connectionString: 'postgres://postgres@127.0.0.1:1/test' });
    await expect(store.connect()).rejects.toThrow(StoreUnavailableError);
    await store.close();
  });
});
