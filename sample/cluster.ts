import { spawn } from 'node:child_process';
import { join } from 'node:path';

/**
 * `npm run sample:cluster`: three instances of the sample sharing Redis (METRONOME_REDIS_URL,
 * default redis://127.0.0.1:6379). Each line starts with the instance that wrote it: every tick of
 * a job is run by one of them. Ctrl-C stops all three gracefully.
 */
const instances = ['a', 'b', 'c'].map((name, index) => {
  const child = spawn(process.execPath, [join(__dirname, 'main.js')], {
    // Each on a port of its own, 3001, 3002 and 3003, with /health, /metrics and the dashboard of the cluster.
    env: { ...process.env, METRONOME_STORE: 'redis', INSTANCE: name, PORT: String(3001 + index), FORCE_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    let buffer = '';
    stream.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines) process.stdout.write(`[${name}] ${line}\n`);
    });
  }
  return new Promise<void>((resolve) => child.on('exit', () => resolve())).then(() => child);
});

console.log('Three instances on Redis; each tick runs on one of them. Press Ctrl-C to stop them.');
process.on('SIGINT', () => {
  // The children got the Ctrl-C too (same process group); wait for their graceful exit.
  void Promise.all(instances).then(() => process.exit(0));
});
