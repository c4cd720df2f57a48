import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable } from 'rxjs';

/** A response as both Express (`res.header`) and Fastify (`reply.header`) give it. */
export interface DashboardResponse {
  header(name: string, value: string): unknown;
  /** Express only: adds to a header rather than replacing it (Fastify's `header` adds `Set-Cookie` by itself). */
  append?(name: string, value: string): unknown;
}

/** Adds a cookie to the response, keeping those the application's middleware set. */
export function addCookie(response: DashboardResponse, value: string): void {
  if (typeof response.append === 'function') response.append('Set-Cookie', value);
  else response.header('Set-Cookie', value);
}

/** What every dashboard response may be framed, sniffed or cached as: not at all. */
const HEADERS: Array<[string, string]> = [
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
  ['Referrer-Policy', 'same-origin'],
  ['Cache-Control', 'no-store'],
  ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'"],
];

/** The page's policy: its one script and style by nonce, requests to its own origin only, no framing. */
export function pagePolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * Sets the security headers on every dashboard response (the page, the JSON API, the event
 * stream): `nosniff`, no framing, no caching, and a Content-Security-Policy that allows nothing
 * (the page replaces it with its own, with a nonce).
 */
@Injectable()
export class SecurityHeadersInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const response = context.switchToHttp().getResponse<DashboardResponse>();
    for (const [name, value] of HEADERS) response.header(name, value);
    return next.handle();
  }
}
