import { POSTGRES_LOOKUP, REDIS_LOOKUP, findPostgresBin, findRedisServer } from './binaries';
import { OwnServer, ownPostgres, ownRedis, pingPostgres, pingRedis } from './servers';
import { DEFAULT_PG_URL, DEFAULT_REDIS_URL } from './services';

/*
 * Jest's global setup: gives the run a PostgreSQL and a Redis. For each, the URL in its
 * environment variable if set; otherwise the default URL if a server answers there; otherwise a
 * private server started from the installed programs, stopped by the global teardown. The URL
 * chosen goes into the environment variable, which Jest's workers and the processes the tests
 * spawn inherit.
 */

/** A service the tests need, and how to get a server of it. */
interface Service {
  name: string;
  variable: 'METRONOME_PG_URL' | 'METRONOME_REDIS_URL';
  defaultUrl: string;
  ping(url: string, timeoutMs: number): Promise<void>;
  /** Whether the programs for a private server are installed. */
  installed(): boolean;
  /** Those programs, and where they are looked for, for the message when they are missing. */
  programs: string;
  lookedIn: string;
  /** The Debian/Ubuntu package that has them. */
  debianPackage: string;
  startOwn(): Promise<OwnServer>;
}

const SERVICES: Service[] = [
  {
    name: 'PostgreSQL',
    variable: 'METRONOME_PG_URL',
    defaultUrl: DEFAULT_PG_URL,
    ping: pingPostgres,
    installed: () => findPostgresBin() !== undefined,
    programs: 'initdb, pg_ctl, postgres',
    lookedIn: POSTGRES_LOOKUP,
    debianPackage: 'postgresql',
    startOwn: ownPostgres,
  },
  {
    name: 'Redis',
    variable: 'METRONOME_REDIS_URL',
    defaultUrl: DEFAULT_REDIS_URL,
    ping: pingRedis,
    installed: () => findRedisServer() !== undefined,
    programs: 'redis-server',
    lookedIn: REDIS_LOOKUP,
    debianPackage: 'redis-server',
    startOwn: ownRedis,
  },
];

const PROBE_TIMEOUT_MS = 1_500;

/** Interrupted (Ctrl-C) or killed, the run does not reach the global teardown: these clean up then. */
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** The private servers of this run, kept where the global teardown can find them. */
const RUNNING = Symbol.for('nestjs-metronome.test.servers');
const running = (): OwnServer[] => ((globalThis as { [RUNNING]?: OwnServer[] })[RUNNING] ??= []);

/** Sets METRONOME_PG_URL and METRONOME_REDIS_URL, starting private servers if need be. */
export default async function globalSetup(): Promise<void> {
  const used = new Map<Service, string>();
  const unreachable: Array<{ service: Service; reason: string }> = [];
  for (const service of SERVICES) {
    const given = process.env[service.variable];
    if (given) {
      used.set(service, `${hidePassword(given)} (${service.variable})`);
      continue;
    }
    try {
      await service.ping(service.defaultUrl, PROBE_TIMEOUT_MS);
      process.env[service.variable] = service.defaultUrl;
      used.set(service, `${service.defaultUrl} (default URL)`);
    } catch (error) {
      unreachable.push({ service, reason: reasonOf(error) });
    }
  }

  const notInstalled = unreachable.filter(({ service }) => !service.installed());
  if (notInstalled.length > 0) throw cannotStart(notInstalled);

  process.once('exit', stopPrivateServers);
  for (const signal of SIGNALS) process.once(signal, onSignal);
  try {
    for (const { service, reason } of unreachable) {
      const server = await service.startOwn();
      running().push(server);
      process.env[service.variable] = server.url;
      used.set(service, `private server on ${new URL(server.url).host} (${service.defaultUrl} did not answer: ${reason})`);
    }
  } catch (error) {
    stopPrivateServers();
    throw error;
  }
  for (const service of SERVICES) console.log(`${service.name}: ${used.get(service)}`);
}

/** Stops the private servers of the run and removes their folders; the global teardown. */
export function stopPrivateServers(): void {
  for (const server of running().splice(0)) server.destroy();
  process.off('exit', stopPrivateServers);
  for (const signal of SIGNALS) process.off(signal, onSignal);
}

function onSignal(signal: NodeJS.Signals): void {
  stopPrivateServers();
  process.kill(process.pid, signal);
}

/** The error that ends the run when a service is unreachable and cannot be started: its message, without a stack. */
function cannotStart(services: Array<{ service: Service; reason: string }>): Error {
  const several = services.length > 1;
  const message = [
    'The tests need a PostgreSQL and a Redis server.',
    ...services.map(
      ({ service, reason }) =>
        `  ${service.name}: nothing answered on ${service.defaultUrl} (${reason}), and the programs to start one are missing: ${service.programs} (looked in ${service.lookedIn}).`,
    ),
    `Install ${several ? 'them' : 'it'} (Debian/Ubuntu: apt-get install ${services.map(({ service }) => service.debianPackage).join(' ')}), ` +
      `or set ${services.map(({ service }) => service.variable).join(' and ')} to ${several ? 'running servers' : 'a running server'}.`,
  ].join('\n');
  const error = new Error(message);
  error.stack = message;
  return error;
}

function reasonOf(error: unknown): string {
  if (error instanceof AggregateError) return reasonOf(error.errors[0]);
  if (error instanceof Error) return error.message || (error as NodeJS.ErrnoException).code || error.name;
  return String(error);
}

function hidePassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.password) return url;
    parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}
