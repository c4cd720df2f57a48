import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { POSTGRES_LOOKUP, REDIS_LOOKUP, findPostgresBin, findRedisServer } from './binaries';

/**
 * A store server of the tests' own, from the installed programs, on a free port and in a fresh
 * temporary folder: the test run's private server when none answers on the default URL, and the
 * servers the fault tests stop and start at will without touching the shared ones.
 */
export interface OwnServer {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /**
   * Stops it for good and removes its folder. Synchronous, so that it can also run from a
   * process `exit` handler.
   */
  destroy(): void;
}

/** A TCP port on 127.0.0.1 that nothing listens on at the moment. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Resolves once a PostgreSQL server at `url` answers a query; rejects with the reason otherwise. */
export async function pingPostgres(url: string, timeoutMs = 2_000): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Resolves once a Redis server at `url` answers PING; rejects with the reason otherwise. */
export async function pingRedis(url: string, timeoutMs = 2_000): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: timeoutMs, commandTimeout: timeoutMs });
  let failure: unknown;
  redis.on('error', (error) => (failure ??= error));
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    // The first connection error says more than "Connection is closed".
    throw failure ?? error;
  } finally {
    redis.disconnect();
  }
}

/** Runs `check` until it resolves; rejects with its last error if it has not after `timeoutMs`. */
export async function until(check: () => Promise<unknown>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what} did not come up within ${timeoutMs} ms: ${String(error)}`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Runs `steps`, which start `server`; if they fail, removes what they left and rethrows. */
async function setUp(server: OwnServer, steps: () => Promise<void>): Promise<OwnServer> {
  try {
    await steps();
    return server;
  } catch (error) {
    server.destroy();
    throw error;
  }
}

/** A redis-server of its own, keeping its data in an append-only file across restarts. */
export async function ownRedis(): Promise<OwnServer> {
  const program = findRedisServer();
  if (!program) throw new Error(`No redis-server found in ${REDIS_LOOKUP}.`);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'metronome-redis-'));
  let child: ChildProcess | null = null;
  const server: OwnServer = {
    url: `redis://127.0.0.1:${port}`,
    async start() {
      child = spawn(program, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--dir', dir], { stdio: 'ignore' });
      await until(() => pingRedis(server.url), `redis-server on port ${port}`);
    },
    async stop() {
      const stopping = child;
      child = null;
      if (!stopping || stopping.exitCode !== null || stopping.signalCode !== null) return;
      const exited = new Promise((resolve) => stopping.on('exit', resolve));
      stopping.kill('SIGKILL');
      await exited;
    },
    destroy() {
      child?.kill('SIGKILL');
      child = null;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return setUp(server, () => server.start());
}

/**
 * A PostgreSQL cluster of its own, with a database `test` and a trusted superuser `postgres`.
 * PostgreSQL refuses to run as root: as root, its folder is given to the postgres user and the
 * programs run as that user; otherwise they run as the current user.
 */
export async function ownPostgres(): Promise<OwnServer> {
  const bin = findPostgresBin();
  if (!bin) throw new Error(`No PostgreSQL programs (initdb, pg_ctl, postgres) found in ${POSTGRES_LOOKUP}.`);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'metronome-pg-'));
  const asRoot = process.getuid?.() === 0;
  const run = (program: string, args: string[]) =>
    asRoot
      ? execFileSync('runuser', ['-u', 'postgres', '--', join(bin, program), ...args], { stdio: 'pipe' })
      : execFileSync(join(bin, program), args, { stdio: 'pipe' });
  const data = join(dir, 'data');
  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const stopNow = () => {
    try {
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // Not running.
    }
  };
  const server: OwnServer = {
    url: `postgres://postgres@127.0.0.1:${port}/test`,
    async start() {
      run('pg_ctl', ['-D', data, '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, '-l', join(dir, 'log'), '-w', 'start']);
      await until(() => pingPostgres(adminUrl), `PostgreSQL on port ${port}`);
    },
    async stop() {
      stopNow();
    },
    destroy() {
      stopNow();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return setUp(server, async () => {
    if (asRoot) chownSync(dir, ...userIds('postgres'));
    run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
    await server.start();
    const client = new Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query('CREATE DATABASE test');
    } finally {
      await client.end();
    }
  });
}

function userIds(user: string): [uid: number, gid: number] {
  return [Number(execFileSync('id', ['-u', user]).toString().trim()), Number(execFileSync('id', ['-g', user]).toString().trim())];
}
