import { ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Tests that run the built package (`dist/`, made by `npm run build`, which `npm test` runs
 * first) in separate Node processes, as an application would load it.
 */
const root = join(__dirname, '..', '..');
const fixture = (name: string) => join(root, 'test', 'fixtures', name);

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` first (`npm test` does).');
});

describe('the built package', () => {
  it.each(['import-app.cjs', 'import-app.mjs'])('loads and fires a job from %s', async (file) => {
    const { stdout } = await promisify(execFile)(process.execPath, [fixture(file)], { cwd: root, timeout: 60_000 });
    expect(JSON.parse(stdout)).toEqual({
      format: file.endsWith('.mjs') ? 'esm' : 'cjs',
      fired: ['2026-01-01T00:01:00.000Z', '2026-01-01T00:02:00.000Z'],
      jobs: ['minutely'],
      ...(file.endsWith('.cjs') ? { workerSum: 42 } : {}),
    });
  });
});

describe('SIGTERM with enableShutdownHooks()', () => {
  /** Collects a child's stdout lines and resolves `waitFor` promises as lines arrive. */
  function watch(child: ChildProcess) {
    const lines: string[] = [];
    const waiters: Array<{ test: (line: string) => boolean; resolve: () => void }> = [];
    let buffer = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        lines.push(line);
        for (const waiter of waiters.filter((w) => w.test(line))) waiter.resolve();
      }
    });
    const waitFor = (test: (line: string) => boolean) =>
      lines.some(test) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ test, resolve }));
    return { lines, waitFor };
  }

  it('lets the running job finish, starts nothing after, and exits 0', async () => {
    const child = spawn(process.execPath, [fixture('shutdown-app.cjs')], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    const { lines, waitFor } = watch(child);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await waitFor((line) => line === 'run 1 started');
    child.kill('SIGTERM');
    const code = await exited;
    const started = lines.filter((line) => / started$/.test(line));
    const finished = lines.filter((line) => / finished /.test(line));
    expect(code).toBe(0);
    expect(lines.at(-1)).toBe('exit 0');
    // No run started after the signal (runs overlap and start every 300 ms otherwise)…
    const signalled = lines.indexOf('SIGTERM');
    expect(signalled).toBeGreaterThan(0);
    expect(lines.slice(signalled).filter((line) => / started$/.test(line))).toEqual([]);
    // …and every run that started finished, its signal aborted, before the process exited.
    expect(finished).toHaveLength(started.length);
    expect(finished.every((line) => line.endsWith('(signal aborted: true)'))).toBe(true);
    expect(lines.indexOf(finished[0])).toBeGreaterThan(signalled);
  }, 60_000);
});

describe('the store drivers, optional peer dependencies', () => {
  /** Runs `code` in a Node process where `pg` and `ioredis` cannot be found, as if not installed. */
  async function withoutDrivers(code: string): Promise<unknown> {
    const hide = `
      const Module = require('node:module');
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request === 'pg' || request === 'ioredis') {
          throw Object.assign(new Error("Cannot find module '" + request + "'"), { code: 'MODULE_NOT_FOUND' });
        }
        return resolve.call(this, request, ...rest);
      };`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', `${hide}\n${code}`], { cwd: root, timeout: 30_000 });
    return JSON.parse(stdout);
  }

  it('are not loaded by an application that does not use their store', async () => {
    const loaded = await withoutDrivers(`
      const lib = require('./dist');
      new lib.MemoryJobStore();
      const drivers = Object.keys(require.cache).filter((file) => /node_modules\\/(pg|ioredis)\\//.test(file));
      console.log(JSON.stringify(drivers));`);
    expect(loaded).toEqual([]);
  });

  it.each([
    ['PostgresJobStore', '{ connectionString: "postgres://localhost/test" }', 'pg'],
    ['RedisJobStore', '{ url: "redis://localhost" }', 'ioredis'],
  ])('when missing, make %s throw StoreUnavailableError saying what to install', async (store, options, driver) => {
    const error = await withoutDrivers(`
      const lib = require('./dist');
      try { new lib.${store}(${options}); console.log('null'); }
      catch (error) { console.log(JSON.stringify({ name: error.name, typed: error instanceof lib.StoreUnavailableError, message: error.message })); }`);
    expect(error).toEqual({
      name: 'StoreUnavailableError',
      typed: true,
      message: expect.stringContaining(`its driver "${driver}" is not installed; run: npm install ${driver}`),
    });
  });
});
