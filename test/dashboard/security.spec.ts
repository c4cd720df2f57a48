import { cookie, csrfCookie, isCsrfToken, isSecure, newCsrfToken, sameToken } from '../../lib/dashboard/dashboard-security';
import { escapeHtml } from '../../lib/dashboard/dashboard-page';
import { pagePolicy } from '../../lib/dashboard/security-headers';

describe('the dashboard’s security helpers', () => {
  it('makes random tokens of 32 bytes, base64url, and knows their shape', () => {
    const tokens = new Set(Array.from({ length: 100 }, newCsrfToken));
    expect(tokens.size).toBe(100);
    for (const token of tokens) expect(isCsrfToken(token)).toBe(true);
    expect(isCsrfToken(undefined)).toBe(false);
    expect(isCsrfToken('short')).toBe(false);
    expect(isCsrfToken(`${newCsrfToken().slice(0, 42)};`)).toBe(false);
  });

  it('compares tokens whatever their lengths', () => {
    const token = newCsrfToken();
    expect(sameToken(token, token)).toBe(true);
    expect(sameToken(token, newCsrfToken())).toBe(false);
    expect(sameToken(token, token.slice(1))).toBe(false);
    expect(sameToken('', token)).toBe(false);
  });

  it('reads a cookie among others', () => {
    const request = { headers: { cookie: 'a=1; metronome_csrf=abc=def ; b=2' } };
    expect(cookie(request, 'metronome_csrf')).toBe('abc=def');
    expect(cookie(request, 'b')).toBe('2');
    expect(cookie(request, 'csrf')).toBeUndefined();
    expect(cookie({ headers: {} }, 'a')).toBeUndefined();
  });

  it('marks the cookie Secure over HTTPS, as Express (secure) or Fastify (protocol) say', () => {
    expect(csrfCookie('t', false)).toBe('metronome_csrf=t; HttpOnly; SameSite=Lax');
    expect(csrfCookie('t', true)).toBe('metronome_csrf=t; HttpOnly; SameSite=Lax; Secure');
    expect(isSecure({ headers: {}, secure: true })).toBe(true);
    expect(isSecure({ headers: {}, protocol: 'https' })).toBe(true);
    expect(isSecure({ headers: {}, protocol: 'http', secure: false })).toBe(false);
  });

  it('escapes text for HTML', () => {
    expect(escapeHtml(`<img src=x onerror="alert('1')">&`)).toBe('&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;');
  });

  it('allows the page its own nonce only: no inline code, no framing, requests to itself', () => {
    expect(pagePolicy('n0nce')).toBe(
      "default-src 'none'; script-src 'nonce-n0nce'; style-src 'nonce-n0nce'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
  });
});
