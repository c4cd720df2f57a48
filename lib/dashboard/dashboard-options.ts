import { CanActivate, ModuleMetadata, Type } from '@nestjs/common';
import { DashboardOptionsError } from '../errors';

/** The options of `ScheduleDashboardModule.forRoot()`. */
export interface ScheduleDashboardOptions {
  /** Where the dashboard is served, e.g. `/ops/scheduler`. Default `/scheduler`. */
  path?: string;
  /**
   * Who may see and use the dashboard: a Nest guard, as a class (made with its dependencies, from
   * the application's global providers and {@link imports}) or an instance. It guards every route:
   * the page, the JSON API and the event stream. Without a guard, the dashboard is served only
   * with {@link allowUnauthenticated}.
   */
  guard?: Type<CanActivate> | CanActivate;
  /**
   * Serves the dashboard without a guard, to anyone who can reach the application: for a local
   * or otherwise protected network only. Default `false`: without a guard, no route is served
   * and a warning says so at start-up.
   */
  allowUnauthenticated?: boolean;
  /** Modules that the guard class's dependencies come from. */
  imports?: ModuleMetadata['imports'];
  /** How many runs of a job the page and `GET {path}/api/jobs/:name` show. Default 20, at most 100. */
  historyLimit?: number;
  /**
   * Origins allowed to post besides the request's own (`https://ops.example.com`): for a proxy
   * that changes the `Host` header on the way. Default none.
   */
  trustedOrigins?: string[];
  /**
   * The host names the dashboard answers to (the `Host` header, without its port): exact names, or
   * `.example.com` for it and its subdomains, or `*` for any. Default: with a `guard`, any; open
   * without one (`allowUnauthenticated`), only `localhost` (and its subdomains), IP addresses and
   * the hosts of {@link trustedOrigins}, so that a web page whose name an attacker points at the
   * application (DNS rebinding) cannot read or use an open dashboard. Others get 403.
   */
  allowedHosts?: string[];
  /** The largest request body accepted, in bytes; bigger ones are refused with 413. Default 1024. */
  maxBodyBytes?: number;
  /** The page's title. Default `Scheduler`. */
  title?: string;
}

/** The options with their defaults, checked. */
export interface ResolvedDashboardOptions {
  /** The path without leading or trailing slash, e.g. `ops/scheduler`. */
  path: string;
  guard: Type<CanActivate> | CanActivate | undefined;
  allowUnauthenticated: boolean;
  imports: NonNullable<ModuleMetadata['imports']>;
  historyLimit: number;
  /** Allowed origins, as `URL.origin` gives them. */
  trustedOrigins: string[];
  /** The host names answered to (lower case; `.name` for a domain and its subdomains), or `null` for any. */
  allowedHosts: string[] | null;
  maxBodyBytes: number;
  title: string;
}

const SEGMENT = /^[A-Za-z0-9._~-]+$/;
const MAX_HISTORY = 100;

/** Checks the options and fills in the defaults; throws {@link DashboardOptionsError} naming the option otherwise. */
export function resolveDashboardOptions(options: ScheduleDashboardOptions = {}): ResolvedDashboardOptions {
  const {
    path = '/scheduler',
    guard,
    allowUnauthenticated = false,
    imports = [],
    historyLimit = 20,
    trustedOrigins = [],
    allowedHosts,
    maxBodyBytes = 1024,
    title = 'Scheduler',
  } = options;
  if (typeof path !== 'string') throw new DashboardOptionsError('path', path, 'must be a string, e.g. "/scheduler".');
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') throw new DashboardOptionsError('path', path, 'must name a path below the root, e.g. "/scheduler".');
  const bad = trimmed.split('/').find((segment) => !SEGMENT.test(segment));
  if (bad !== undefined) {
    throw new DashboardOptionsError(
      'path',
      path,
      `has the segment ${JSON.stringify(bad)}: segments may hold only letters, digits and . _ ~ - (no parameters or wildcards).`,
    );
  }
  if (guard !== undefined && !isGuard(guard)) {
    throw new DashboardOptionsError('guard', guard, 'must be a CanActivate: a guard class, or an object with a canActivate method.');
  }
  if (typeof allowUnauthenticated !== 'boolean') throw new DashboardOptionsError('allowUnauthenticated', allowUnauthenticated, 'must be true or false.');
  if (!Number.isInteger(historyLimit) || historyLimit < 1 || historyLimit > MAX_HISTORY) {
    throw new DashboardOptionsError('historyLimit', historyLimit, `must be a whole number from 1 to ${MAX_HISTORY}.`);
  }
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 0)
    throw new DashboardOptionsError('maxBodyBytes', maxBodyBytes, 'must be a whole number of bytes, 0 or more.');
  if (!Array.isArray(trustedOrigins))
    throw new DashboardOptionsError('trustedOrigins', trustedOrigins, 'must be an array of origins, e.g. ["https://ops.example.com"].');
  const origins = trustedOrigins.map((origin) => {
    const parsed = typeof origin === 'string' && URL.canParse(origin) ? new URL(origin) : undefined;
    if (!parsed || parsed.origin === 'null' || parsed.origin !== origin.replace(/\/$/, '').toLowerCase()) {
      throw new DashboardOptionsError('trustedOrigins', origin, 'is not an origin: give the scheme, host and port only, e.g. "https://ops.example.com".');
    }
    return parsed.origin;
  });
  if (typeof title !== 'string' || title.trim() === '') throw new DashboardOptionsError('title', title, 'must be a non-empty string.');
  const hosts = resolveAllowedHosts(allowedHosts, guard !== undefined, origins);
  return { path: trimmed, guard, allowUnauthenticated, imports, historyLimit, trustedOrigins: origins, allowedHosts: hosts, maxBodyBytes, title };
}

const HOST_NAME = /^(\.?[a-z0-9-]+(\.[a-z0-9-]+)*\.?|\[[0-9a-f:.]+\])$/;

/** The host names answered to: those given; any behind a guard; else localhost, IP addresses (checked when asked) and the trusted origins' hosts. */
function resolveAllowedHosts(given: unknown, guarded: boolean, origins: string[]): string[] | null {
  if (given === undefined) return guarded ? null : ['localhost', '.localhost', ...origins.map((origin) => new URL(origin).hostname)];
  if (!Array.isArray(given)) throw new DashboardOptionsError('allowedHosts', given, 'must be an array of host names, e.g. ["ops.example.com", ".internal"].');
  if (given.includes('*')) return null;
  return given.map((host) => {
    const name = typeof host === 'string' ? host.toLowerCase() : '';
    if (!HOST_NAME.test(name))
      throw new DashboardOptionsError('allowedHosts', host, 'is not a host name (no scheme or port), e.g. "ops.example.com" or ".internal".');
    return name;
  });
}

function isGuard(guard: unknown): boolean {
  if (typeof guard === 'function') return typeof (guard.prototype as Partial<CanActivate> | undefined)?.canActivate === 'function';
  return typeof guard === 'object' && guard !== null && typeof (guard as Partial<CanActivate>).canActivate === 'function';
}
