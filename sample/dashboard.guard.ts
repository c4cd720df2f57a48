import { CanActivate, ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';

/**
 * Lets into the dashboard whoever gives the password in METRONOME_DASHBOARD_PASSWORD (any user
 * name), with HTTP Basic authentication: the browser asks for it. Without that variable, nobody.
 * A real application would use its own authentication here (a session, a JWT, a role).
 */
@Injectable()
export class DashboardGuard implements CanActivate {
  private readonly password = process.env.METRONOME_DASHBOARD_PASSWORD;

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const authorization = http.getRequest<{ headers: Record<string, string | undefined> }>().headers.authorization ?? '';
    const given = authorization.startsWith('Basic ') ? Buffer.from(authorization.slice(6), 'base64').toString().split(':').slice(1).join(':') : '';
    if (this.password && given.length === this.password.length && timingSafeEqual(Buffer.from(given), Buffer.from(this.password))) return true;
    http.getResponse<{ header(name: string, value: string): unknown }>().header('WWW-Authenticate', 'Basic realm="scheduler", charset="UTF-8"');
    throw new UnauthorizedException(this.password ? 'Wrong password.' : 'Set METRONOME_DASHBOARD_PASSWORD to open the dashboard.');
  }
}
