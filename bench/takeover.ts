/**
 * Takeover: `node takeover.js <redis|postgres>`. Three processes of the application of the
 * cluster tests (test/fixtures/cluster-app.cjs) with the library's default timing share the store;
 * its at-least-once job `long` runs 8 s every 3 s. Once a run starts, its process is killed with
 * SIGKILL, and the time until another process runs the same tick again is measured: the dead
 * instance misses its check-ins, and its leases go. Prints `RESULT {...}`: `takeoverMs`, the
 * attempt of the run again (2), and how many times it ran.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { dropNamespace, PG_URL, REDIS_URL } from './cluster-run';
import { report } from './common';

const ROOT = join(__dirname, '..');

interface RunRecord {
  instance: string;
  at: number;
  type: string;
  job?: string;
  tick?: number;
  attempt?: number;
}

/** One process of the application; its records as they come. */
function instance(name: string, env: Record<string, string>, onRecord: (record: RunRecord) => void): ChildProcess {
  const child = spawn(process.execPath, [join(ROOT, 'test', 'fixtures', 'cluster-app.cjs')], {
    cwd: ROOT,
    env: { ...process.env, ...env, INSTANCE: name },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (line.startsWith('{')) onRecord(JSON.parse(line) as RunRecord);
    }
  });
  return child;
}

async function main(): Promise<object> {
  const kind = process.argv[2];
  if (kind !== 'redis' && kind !== 'postgres') throw new Error('usage: takeover.js <redis|postgres>');
  const namespace = kind === 'redis' ? `bench-takeover-${randomBytes(4).toString('hex')}:` : `bench_takeover_${randomBytes(4).toString('hex')}`;
  const env = { STORE: kind, STORE_URL: kind === 'redis' ? REDIS_URL : PG_URL, STORE_NAMESPACE: namespace, LONG_JOB: '1', DEFAULT_TIMING: '1' };
  const records: RunRecord[] = [];
  let first: RunRecord | undefined;
  let killedAt = 0;
  let done!: (record: RunRecord) => void;
  const again = new Promise<RunRecord>((resolve) => (done = resolve));
  const children = new Map<string, ChildProcess>();
  const onRecord = (record: RunRecord) => {
    records.push(record);
    if (record.type !== 'run' || record.job !== 'long') return;
    if (!first) {
      first = record;
      killedAt = Date.now();
      children.get(record.instance)!.kill('SIGKILL');
    } else if (record.tick === first.tick && record.instance !== first.instance) done(record);
  };
  for (const name of ['a', 'b', 'c']) children.set(name, instance(name, env, onRecord));
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no takeover within 90 s')), 90_000).unref());
  try {
    const retried = await Promise.race([again, timeout]);
    const runs = records.filter((r) => r.type === 'run' && r.job === 'long' && r.tick === first!.tick).length;
    return { takeoverMs: retried.at - killedAt, attempt: retried.attempt, runs };
  } finally {
    for (const child of children.values()) child.kill('SIGTERM');
    await Promise.all(
      [...children.values()].map(
        (child) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.on('exit', resolve))),
      ),
    );
    await dropNamespace(kind, namespace);
  }
}

report(main());
