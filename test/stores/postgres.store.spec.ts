import { Pool } from 'pg';
import { StoreUnavailableError } from '../../lib';
import { PostgresJobStore } from '../../lib/stores/postgres.store';
import { PG_URL, uniqueName } from '../support/services';
import { describeJobStore } from './conformance';

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

  it('reports a server it cannot reach as StoreUnavailableError', async () => {
    const store = new PostgresJobStore({ connectionString: 'postgres://postgres@127.0.0.1:1/test' });
    await expect(store.connect()).rejects.toThrow(StoreUnavailableError);
    await store.close();
  });
});
