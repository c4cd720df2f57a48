import { execFileSync } from 'node:child_process';
import { accessSync, constants, readdirSync, realpathSync, statSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

/** Where the PostgreSQL programs are looked for, in order, as told in error messages. */
export const POSTGRES_LOOKUP = 'PATH, `pg_config --bindir`, /usr/lib/postgresql/*/bin';
/** Where redis-server is looked for, as told in error messages. */
export const REDIS_LOOKUP = 'PATH';

/** The programs a PostgreSQL server of the tests' own needs, all in one folder. */
const POSTGRES_PROGRAMS = ['initdb', 'pg_ctl', 'postgres'];

/**
 * The folder holding `initdb`, `pg_ctl` and `postgres`, or `undefined` if there is none. Looks on
 * PATH (following links, as Debian's /usr/lib/postgresql/N/bin are often linked from elsewhere),
 * then in `pg_config --bindir`, then in the newest /usr/lib/postgresql/N/bin.
 */
export function findPostgresBin(): string | undefined {
  const onPath = pathDirs()
    .map((dir) => join(dir, 'initdb'))
    .filter(isExecutable)
    .map((initdb) => dirname(realpathSync(initdb)));
  const candidates = [...onPath, ...pgConfigBindir(), ...debianBins()];
  return candidates.find((dir) => POSTGRES_PROGRAMS.every((program) => isExecutable(join(dir, program))));
}

/** The path of `redis-server` on PATH, or `undefined` if there is none. */
export function findRedisServer(): string | undefined {
  return findOnPath('redis-server');
}

/** The path of `redis-cli` on PATH (it creates Redis Clusters), or `undefined` if there is none. */
export function findRedisCli(): string | undefined {
  return findOnPath('redis-cli');
}

function findOnPath(program: string): string | undefined {
  return pathDirs()
    .map((dir) => join(dir, program))
    .find(isExecutable);
}

function pathDirs(): string[] {
  return (process.env.PATH ?? '').split(delimiter).filter(Boolean);
}

function pgConfigBindir(): string[] {
  try {
    return [execFileSync('pg_config', ['--bindir'], { stdio: 'pipe' }).toString().trim()];
  } catch {
    return [];
  }
}

/** /usr/lib/postgresql/N/bin, newest version first. */
function debianBins(): string[] {
  const root = '/usr/lib/postgresql';
  let versions: string[];
  try {
    versions = readdirSync(root);
  } catch {
    return [];
  }
  return versions.sort((a, b) => Number(b) - Number(a) || b.localeCompare(a)).map((version) => join(root, version, 'bin'));
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
