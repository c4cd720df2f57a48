import { CanActivate } from '@nestjs/common';
import { DashboardOptionsError, ScheduleDashboardModule, SchedulerError } from '../../lib';
import { resolveDashboardOptions } from '../../lib/dashboard/dashboard-options';

class AllowAll implements CanActivate {
  canActivate() {
    return true;
  }
}

describe('ScheduleDashboardModule options', () => {
  it('defaults: /scheduler, off without a guard, 20 runs, 1 KB bodies', () => {
    expect(resolveDashboardOptions()).toEqual({
      path: 'scheduler',
      guard: undefined,
      allowUnauthenticated: false,
      imports: [],
      historyLimit: 20,
      trustedOrigins: [],
      allowedHosts: ['localhost', '.localhost'],
      maxBodyBytes: 1024,
      title: 'Scheduler',
    });
  });

  it('answers any host behind a guard, localhost and the trusted origins open without one, or the hosts given', () => {
    expect(resolveDashboardOptions({ guard: { canActivate: () => true } }).allowedHosts).toBeNull();
    expect(resolveDashboardOptions({ allowUnauthenticated: true, trustedOrigins: ['https://ops.example.com'] }).allowedHosts).toEqual([
      'localhost',
      '.localhost',
      'ops.example.com',
    ]);
    expect(resolveDashboardOptions({ allowUnauthenticated: true, allowedHosts: ['Ops.Example.com', '.internal', '[::1]'] }).allowedHosts).toEqual([
      'ops.example.com',
      '.internal',
      '[::1]',
    ]);
    expect(resolveDashboardOptions({ allowUnauthenticated: true, allowedHosts: ['*'] }).allowedHosts).toBeNull();
  });

  it('takes a path with or without slashes, nested', () => {
    expect(resolveDashboardOptions({ path: 'ops/scheduler/' }).path).toBe('ops/scheduler');
    expect(resolveDashboardOptions({ path: '//jobs' }).path).toBe('jobs');
  });

  it('takes a guard class or instance, and trusted origins as URL.origin gives them', () => {
    expect(resolveDashboardOptions({ guard: AllowAll }).guard).toBe(AllowAll);
    const instance = new AllowAll();
    expect(resolveDashboardOptions({ guard: instance }).guard).toBe(instance);
    expect(resolveDashboardOptions({ trustedOrigins: ['https://ops.example.com/', 'HTTP://Localhost:8080'] }).trustedOrigins).toEqual([
      'https://ops.example.com',
      'http://localhost:8080',
    ]);
  });

  it.each<[string, object, string]>([
    ['path', { path: '/' }, 'Invalid path in the ScheduleDashboardModule options: "/" must name a path below the root, e.g. "/scheduler".'],
    ['path', { path: 42 }, 'Invalid path in the ScheduleDashboardModule options: 42 must be a string, e.g. "/scheduler".'],
    [
      'path',
      { path: '/ops/:name' },
      'Invalid path in the ScheduleDashboardModule options: "/ops/:name" has the segment ":name": segments may hold only letters, digits and . _ ~ - (no parameters or wildcards).',
    ],
    ['path', { path: 'a/*' }, 'has the segment "*"'],
    [
      'guard',
      { guard: { check: () => true } },
      'Invalid guard in the ScheduleDashboardModule options: {} must be a CanActivate: a guard class, or an object with a canActivate method.',
    ],
    ['guard', { guard: class NotAGuard {} }, 'Invalid guard in the ScheduleDashboardModule options: function NotAGuard must be a CanActivate'],
    [
      'allowUnauthenticated',
      { allowUnauthenticated: 'yes' },
      'Invalid allowUnauthenticated in the ScheduleDashboardModule options: "yes" must be true or false.',
    ],
    [
      'allowedHosts',
      { allowedHosts: ['https://ops.example.com'] },
      'Invalid allowedHosts in the ScheduleDashboardModule options: "https://ops.example.com" is not a host name (no scheme or port), e.g. "ops.example.com" or ".internal".',
    ],
    [
      'allowedHosts',
      { allowedHosts: 'ops.example.com' },
      'Invalid allowedHosts in the ScheduleDashboardModule options: "ops.example.com" must be an array of host names, e.g. ["ops.example.com", ".internal"].',
    ],
    ['historyLimit', { historyLimit: 0 }, 'Invalid historyLimit in the ScheduleDashboardModule options: 0 must be a whole number from 1 to 100.'],
    ['historyLimit', { historyLimit: 101 }, 'must be a whole number from 1 to 100.'],
    ['maxBodyBytes', { maxBodyBytes: -1 }, 'Invalid maxBodyBytes in the ScheduleDashboardModule options: -1 must be a whole number of bytes, 0 or more.'],
    ['trustedOrigins', { trustedOrigins: 'https://a.example' }, 'must be an array of origins'],
    [
      'trustedOrigins',
      { trustedOrigins: ['https://a.example/dashboard'] },
      'Invalid trustedOrigins in the ScheduleDashboardModule options: "https://a.example/dashboard" is not an origin: give the scheme, host and port only',
    ],
    ['trustedOrigins', { trustedOrigins: ['not a url'] }, '"not a url" is not an origin'],
    ['title', { title: ' ' }, 'Invalid title in the ScheduleDashboardModule options: " " must be a non-empty string.'],
  ])('refuses a bad %s with a DashboardOptionsError naming it: %j', (option, options, message) => {
    let thrown: unknown;
    try {
      ScheduleDashboardModule.forRoot(options);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DashboardOptionsError);
    expect(thrown).toBeInstanceOf(SchedulerError);
    expect(thrown).toMatchObject({ code: 'DASHBOARD_OPTIONS_INVALID', option });
    expect((thrown as Error).message).toContain(message);
  });
});
