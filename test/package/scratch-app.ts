import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

/** What a finished command printed. */
export interface CommandOutput {
  stdout: string;
  stderr: string;
}

/** Options of {@link run}. */
export interface RunOptions {
  cwd: string;
  /** Variables added to the environment. */
  env?: Record<string, string>;
  /** Kill the command after this many ms. */
  timeoutMs: number;
}

/**
 * Runs a command to its end. Rejects if it fails, is killed or times out, with an error that
 * shows the command, where it ran and the end of what it printed.
 */
export function run(command: string, args: readonly string[], options: RunOptions): Promise<CommandOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      shell: process.platform === 'win32',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0 && !timedOut) return resolve({ stdout, stderr });
      const how = timedOut ? `did not finish within ${options.timeoutMs} ms` : signal ? `was killed by ${signal}` : `exited with code ${code}`;
      reject(new Error(`\`${[command, ...args].join(' ')}\` in ${options.cwd} ${how}\n--- stdout\n${tail(stdout)}\n--- stderr\n${tail(stderr)}`));
    });
  });
}

/** The last lines of a long output. */
function tail(text: string, lines = 60): string {
  const all = text.trimEnd().split('\n');
  return all.length > lines ? [`(${all.length - lines} lines before)`, ...all.slice(-lines)].join('\n') : all.join('\n');
}

/** The version of a package that the lockfile at `root` installs. */
export function lockedVersion(root: string, name: string): string {
  const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> };
  const version = lock.packages[`node_modules/${name}`]?.version;
  if (!version) throw new Error(`${name} is not in ${root}/package-lock.json`);
  return version;
}

/**
 * Writes the package.json of a new CommonJS application (as `nest new` makes it) that depends
 * on the tarball and on `dependencies`, and installs them with npm (from its cache when it can).
 */
export async function installApp(dir: string, tarball: string, dependencies: Record<string, string>): Promise<void> {
  const manifest = {
    name: 'packed-app',
    version: '0.0.1',
    private: true,
    license: 'UNLICENSED',
    dependencies: { 'nestjs-metronome': `file:${path.relative(dir, tarball)}`, ...dependencies },
  };
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: dir, timeoutMs: 120_000 });
}
