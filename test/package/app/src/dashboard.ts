import { CanActivate, ExecutionContext, Injectable, Module } from '@nestjs/common';
import { ScheduleDashboardModule, ScheduleModule } from 'nestjs-metronome';

// README: "Dashboard" of "Operations". Compiled, never started: the application it belongs to is
// an HTTP one, and the README's examples run in application contexts.

/** Lets in requests that carry the admin key. */
@Injectable()
export class AdminGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>().headers['x-admin-key'] === process.env.ADMIN_KEY;
  }
}

@Module({
  imports: [
    ScheduleModule.forRoot(),
    ScheduleDashboardModule.forRoot({ path: '/scheduler', guard: AdminGuard }),
    // or, on a trusted network only: ScheduleDashboardModule.forRoot({ allowUnauthenticated: true })
  ],
})
export class AppModule {}

/** The other way the README shows. */
export const openDashboard = ScheduleDashboardModule.forRoot({ allowUnauthenticated: true });
