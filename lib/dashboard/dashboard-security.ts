import { CanActivate, ExecutionContext, ForbiddenException, Inject, Injectable, PayloadTooLargeException } from '@nestjs/common';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { DASHBOARD_OPTIONS } from './dashboard.constants';
import { ResolvedDashboardOptions } from './dashboard-options';

/** The header in which the page sends its CSRF token with every change. */
export const CSRF_HEADER = 'x-metronome-csrf';
/** The cookie that holds the same token (double submit): any instance behind a load balancer can check it. */
export const CSRF_COOKIE = 'metronome_csrf';

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** The request as both Express and Fastify give it, as far as the dashboard reads it. */
export interface DashboardRequest {
  headers: Record<string, string | string[] | undefined>;
  url?: string;
  protocol?: string;
  secure?: boolean;
}

/** A new CSRF token: 32 random bytes, base64url. */
export function newCsrfToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Whether `value` has the shape of a token made by {@link newCsrfToken}. */
export function isCsrfToken(value: string | undefined): value is string {
  return value !== undefined && TOKEN.test(value);
}

/** Compares two tokens in constant time (their digests, so that not even their lengths leak). */
export function sameToken(a: string, b: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** One header's value (the first, if it was sent more than once). */
export function header(request: DashboardRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A cookie's value from the `Cookie` header. */
export function cookie(request: DashboardRequest, name: string): string | undefined {
  for (const part of (header(request, 'cookie') ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/**
 * The `Set-Cookie` value that gives the browser its CSRF token: HttpOnly (the page reads the token
 * from itself), SameSite=Lax (a page opened from a link elsewhere keeps the token of the other tabs;
 * the Origin check and the header protect the changes).
 */
export function csrfCookie(token: string, secure: boolean): string {
  return `${CSRF_COOKIE}=${token}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}

/** Whether the request came over TLS, as the platform sees it. */
export function isSecure(request: DashboardRequest): boolean {
  return request.secure === true || request.protocol === 'https';
}

/** The host name of a `Host` header (or HTTP/2's `:authority`), lower case, without its port; IPv6 in brackets. */
export function hostName(request: DashboardRequest): string | undefined {
  const host = (header(request, 'host') ?? header(request, ':authority'))?.toLowerCase();
  if (host === undefined) return undefined;
  return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d*$/, '');
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * Guards every route of the dashboard by the `Host` header (see `allowedHosts`): an open dashboard
 * answers only to localhost and IP addresses by default, so that a page whose host name an attacker
 * points at the application (DNS rebinding) cannot read or use it.
 */
@Injectable()
export class HostGuard implements CanActivate {
  constructor(@Inject(DASHBOARD_OPTIONS) private readonly options: ResolvedDashboardOptions) {}

  canActivate(context: ExecutionContext): boolean {
    const allowed = this.options.allowedHosts;
    if (allowed === null) return true;
    const name = hostName(context.switchToHttp().getRequest<DashboardRequest>());
    const open = this.options.guard === undefined;
    if (
      name !== undefined &&
      (allowed.some((host) => name === host || (host.startsWith('.') && name.endsWith(host))) || (open && (IPV4.test(name) || name.startsWith('['))))
    )
      return true;
    throw new ForbiddenException(
      `Refused: the dashboard does not answer to the host ${JSON.stringify(name ?? '')}` +
        (open ? ' while it is open without a guard (localhost and IP addresses only);' : ';') +
        ' add it to the allowedHosts option.',
    );
  }
}

/**
 * Guards every change the dashboard makes (the POST routes), after the application's own guard:
 * - same origin: the `Origin` header (or, without one, the `Referer`) must name this host (the
 *   `Host` header) or one of the `trustedOrigins`; a request with neither is refused;
 * - CSRF: the `x-metronome-csrf` header must equal the `metronome_csrf` cookie the page was given,
 *   compared in constant time;
 * - size: a body bigger than `maxBodyBytes`, or of unknown length (chunked), is refused with 413.
 * Refusals are 403 (413 for the size), with a message that says what was missing or wrong.
 */
@Injectable()
export class MutationGuard implements CanActivate {
  constructor(@Inject(DASHBOARD_OPTIONS) private readonly options: ResolvedDashboardOptions) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<DashboardRequest>();
    this.checkOrigin(request);
    this.checkToken(request);
    this.checkSize(request);
    return true;
  }

  private checkOrigin(request: DashboardRequest): void {
    const origin = header(request, 'origin');
    const referer = header(request, 'referer');
    const source = origin ?? referer;
    const which = origin !== undefined ? 'Origin' : 'Referer';
    if (source === undefined) throw new ForbiddenException('Refused: a dashboard change needs an Origin or Referer header naming this site.');
    const parsed = URL.canParse(source) ? new URL(source) : undefined;
    const host = header(request, 'host')?.toLowerCase();
    if (parsed && parsed.origin !== 'null' && (parsed.host.toLowerCase() === host || this.options.trustedOrigins.includes(parsed.origin))) return;
    throw new ForbiddenException(`Refused: the ${which} header (${source.slice(0, 200)}) is not this site (${host ?? 'no Host header'}).`);
  }

  private checkToken(request: DashboardRequest): void {
    const sent = header(request, CSRF_HEADER);
    if (!sent) throw new ForbiddenException(`Refused: a dashboard change needs the ${CSRF_HEADER} header the page sends.`);
    const expected = cookie(request, CSRF_COOKIE);
    if (!isCsrfToken(expected)) throw new ForbiddenException(`Refused: no ${CSRF_COOKIE} cookie came with the change; reload the dashboard.`);
    if (!sameToken(sent, expected))
      throw new ForbiddenException(`Refused: the ${CSRF_HEADER} header does not match the ${CSRF_COOKIE} cookie; reload the dashboard.`);
  }

  private checkSize(request: DashboardRequest): void {
    const { maxBodyBytes } = this.options;
    const length = header(request, 'content-length');
    if (length !== undefined && !(Number(length) <= maxBodyBytes)) {
      throw new PayloadTooLargeException(`Refused: the body has ${length} bytes, more than the ${maxBodyBytes} a dashboard change may have.`);
    }
    if (length === undefined && header(request, 'transfer-encoding') !== undefined) {
      throw new PayloadTooLargeException(`Refused: a body of unknown length (Transfer-Encoding); a dashboard change may have at most ${maxBodyBytes} bytes.`);
    }
  }
}
