import { CanActivate, ExecutionContext, Injectable, Module } from '@nestjs/common';
import { ConflictException, NotFoundException, ServiceUnavailableException, InternalServerErrorException } from '@nestjs/common';
import { get as httpGet } from 'node:http';
import { lastValueFrom, NEVER } from 'rxjs';
import { JobNotFoundError, SchedulerNotRunningError, SchedulerRegistry, StoreUnavailableError } from '../../lib';
import { DashboardController } from '../../lib/dashboard/dashboard.controller';
import { resolveDashboardOptions } from '../../lib/dashboard/dashboard-options';
import { DASHBOARD_OFF_WARNING } from '../../lib/dashboard/dashboard-off';
import { httpError } from '../../lib/dashboard/http-errors';
import { DashboardApp, eventually, openSession, PLATFORMS, post, Session, startDashboardApp } from './support';

/** The name of a job that holds every character a URL or HTML could trip on. */
const ODD = 'a/b?c#d%e <i>&"';
const path = (name: string) => `/jobs/${encodeURIComponent(name)}`;

/** Reads server-sent events until `found` holds for the text so far, or fails after `timeoutMs`. */
async function readEvents(url: string, found: (text: string) => boolean, act: () => Promise<unknown>, headers: Record<string, string> = {}): Promise<string> {
  const abort = new AbortController();
  const response = await fetch(url, { signal: abort.signal, headers });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/event-stream');
  expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  const reader = response.body!.getReader();
  let text = '';
  const timer = setTimeout(() => abort.abort(), 5_000);
  try {
    await act();
    while (!found(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
    }
  } catch (error) {
    if (!abort.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return text;
}

describe.each(PLATFORMS)('the dashboard on %s', (platform) => {
  describe('served without a guard (allowUnauthenticated)', () => {
    let d: DashboardApp;
    let session: Session;

    beforeAll(async () => {
      d = await startDashboardApp(
        platform,
        { path: '/scheduler', allowUnauthenticated: true, title: '<b>Ops</b>', trustedOrigins: ['https://ops.example.com'] },
        { instanceId: 'instance-a' },
      );
      for (const name of ['report', 'cleanup', ODD]) await d.registry.addJob({ name, trigger: { every: 3_600_000 }, handler: () => undefined });
      await d.registry.addJob({
        name: 'failing',
        trigger: { cron: '0 6 * * 1-5' },
        handler: () => {
          throw new Error('<script>alert(1)</script> went wrong');
        },
      });
      session = await openSession(d.dashboard);
    });

    afterAll(() => d.app.close());

    it('serves the page with a nonce policy, nosniff, no framing, and the CSRF cookie', async () => {
      const response = await fetch(d.dashboard);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('cache-control')).toBe('no-store');
      const policy = response.headers.get('content-security-policy')!;
      const nonce = /script-src 'nonce-([^']+)'/.exec(policy)?.[1];
      expect(nonce).toBeDefined();
      expect(policy).toContain("frame-ancestors 'none'");
      expect(policy).toContain("default-src 'none'");
      expect(policy).not.toContain('unsafe-inline');
      const html = await response.text();
      expect(html.match(/<script\b[^>]*>/g)).toEqual([`<script nonce="${nonce}">`]);
      expect(html).toContain(`<style nonce="${nonce}">`);
      expect(html).not.toMatch(/ style="/);
      expect(response.headers.get('set-cookie')).toMatch(/^metronome_csrf=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Lax$/);
      // Another response, another nonce.
      const again = await fetch(d.dashboard);
      expect(again.headers.get('content-security-policy')).not.toContain(nonce);
    });

    it('escapes the title it is given', async () => {
      const html = await (await fetch(d.dashboard)).text();
      expect(html).toContain('<title>&lt;b&gt;Ops&lt;/b&gt;</title>');
      expect(html).not.toContain('<b>Ops</b>');
    });

    it('keeps a browser’s token across page loads, so that two tabs can both make changes', async () => {
      const response = await fetch(d.dashboard, { headers: { cookie: session.cookie } });
      expect(response.headers.get('set-cookie')).toBeNull();
      expect(await response.text()).toContain(`<meta name="metronome-csrf" content="${session.token}">`);
    });

    it('lists the jobs as JSON, with their schedule in words', async () => {
      const response = await fetch(`${d.dashboard}/api/jobs`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
      const jobs = (await response.json()) as Array<{ name: string; trigger: { summary: string }; paused: boolean }>;
      expect(jobs.map((job) => job.name)).toEqual([ODD, 'cleanup', 'failing', 'report']);
      expect(jobs.find((job) => job.name === 'failing')!.trigger).toEqual({
        text: 'cron "0 6 * * 1-5" (UTC)',
        summary: 'at 06:00 on weekdays',
        detail: '0 6 * * 1-5 · UTC',
      });
      expect(jobs.find((job) => job.name === 'report')).toMatchObject({
        kind: 'interval',
        paused: false,
        running: 0,
        runs: 0,
        lastOutcome: null,
        scope: 'cluster',
      });
    });

    it('gives one job with its last runs, errors included, for any name', async () => {
      await d.registry.triggerJob('failing');
      const response = await fetch(`${d.dashboard}/api${path('failing')}`);
      expect(response.status).toBe(200);
      const job = (await response.json()) as { name: string; lastOutcome: string; history: Array<{ instance: string; outcome: string; error: string }> };
      expect(job).toMatchObject({ name: 'failing', lastOutcome: 'failed' });
      expect(job.history).toEqual([
        expect.objectContaining({ job: 'failing', instance: 'instance-a', outcome: 'failed', error: '<script>alert(1)</script> went wrong', attempt: 1 }),
      ]);
      const odd = await fetch(`${d.dashboard}/api${path(ODD)}`);
      expect(odd.status).toBe(200);
      expect(((await odd.json()) as { name: string }).name).toBe(ODD);
    });

    it('answers 404, as JSON, for a job that does not exist', async () => {
      const response = await fetch(`${d.dashboard}/api${path('nope')}`);
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await response.json()).toMatchObject({ statusCode: 404, message: 'No job was found with the given name (nope).' });
    });

    it('lists the recent runs of every job, newest first', async () => {
      await d.registry.triggerJob('report');
      // A real server: the two runs start a few ms apart.
      await new Promise((resolve) => setTimeout(resolve, 5));
      await d.registry.triggerJob('cleanup');
      const runs = (await (await fetch(`${d.dashboard}/api/runs?limit=2`)).json()) as Array<{ job: string }>;
      expect(runs.map((run) => run.job)).toEqual(['cleanup', 'report']);
    });

    it('lists the live instances: this one, without a shared store', async () => {
      const instances = (await (await fetch(`${d.dashboard}/api/instances`)).json()) as Array<{ id: string; running: number }>;
      expect(instances).toEqual([expect.objectContaining({ id: 'instance-a', running: 0 })]);
    });

    it('pauses, resumes, runs and removes a job with a same-origin POST carrying the token', async () => {
      let response = await post(d.dashboard, `${path(ODD)}/pause`, session);
      expect(response.status).toBe(200);
      expect(((await response.json()) as { job: { paused: boolean } }).job.paused).toBe(true);
      expect(d.registry.getJob(ODD).paused).toBe(true);
      response = await post(d.dashboard, `${path(ODD)}/resume`, session);
      expect(response.status).toBe(200);
      expect(d.registry.getJob(ODD).paused).toBe(false);
      const before = d.registry.getJob(ODD).runs;
      response = await post(d.dashboard, `${path(ODD)}/trigger`, session);
      expect(response.status).toBe(202);
      expect(await response.json()).toEqual({ triggered: ODD });
      await eventually(() => d.registry.getJob(ODD).runs === before + 1, 'the run');
      response = await post(d.dashboard, `${path(ODD)}/remove`, session);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ removed: ODD });
      expect(d.registry.listJobs().map((job) => job.name)).not.toContain(ODD);
      expect((await post(d.dashboard, `${path(ODD)}/pause`, session)).status).toBe(404);
    });

    it('accepts the Referer when no Origin comes, and a trusted origin', async () => {
      const referer = await post(d.dashboard, `${path('report')}/pause`, session, { origin: '', referer: `${d.dashboard}` });
      expect(referer.status).toBe(200);
      const trusted = await post(d.dashboard, `${path('report')}/resume`, session, { origin: 'https://ops.example.com' });
      expect(trusted.status).toBe(200);
    });

    it.each<[string, (session: Session, dashboard: string) => Record<string, string>, string]>([
      ['without the token', () => ({ 'x-metronome-csrf': '' }), 'Refused: a dashboard change needs the x-metronome-csrf header the page sends.'],
      ['with a token but no cookie', () => ({ cookie: '' }), 'Refused: no metronome_csrf cookie came with the change; reload the dashboard.'],
      [
        'with a token that is not the cookie’s',
        () => ({ 'x-metronome-csrf': 'A'.repeat(43) }),
        'Refused: the x-metronome-csrf header does not match the metronome_csrf cookie; reload the dashboard.',
      ],
      ['from another origin', () => ({ origin: 'https://evil.example' }), 'Refused: the Origin header (https://evil.example) is not this site'],
      ['from an opaque origin', () => ({ origin: 'null' }), 'Refused: the Origin header (null) is not this site'],
      [
        'with a Referer of another site',
        () => ({ origin: '', referer: 'https://evil.example/page' }),
        'Refused: the Referer header (https://evil.example/page) is not this site',
      ],
      ['with neither Origin nor Referer', () => ({ origin: '' }), 'Refused: a dashboard change needs an Origin or Referer header naming this site.'],
    ])('refuses a change %s with 403, changing nothing', async (_, headers, message) => {
      const response = await post(d.dashboard, `${path('report')}/pause`, session, headers(session, d.dashboard));
      expect(response.status).toBe(403);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(((await response.json()) as { message: string }).message).toContain(message);
      expect(d.registry.getJob('report').paused).toBe(false);
    });

    it('refuses a body over 1 KB, or of unknown length, with 413', async () => {
      const big = await fetch(`${d.dashboard}/api${path('report')}/pause`, {
        method: 'POST',
        headers: { origin: new URL(d.dashboard).origin, 'x-metronome-csrf': session.token, cookie: session.cookie, 'content-type': 'text/plain' },
        body: 'x'.repeat(2_000),
      });
      expect(big.status).toBe(413);
      expect(((await big.json()) as { message: string }).message).toBe('Refused: the body has 2000 bytes, more than the 1024 a dashboard change may have.');
      const chunked = await fetch(`${d.dashboard}/api${path('report')}/pause`, {
        method: 'POST',
        headers: { origin: new URL(d.dashboard).origin, 'x-metronome-csrf': session.token, cookie: session.cookie, 'content-type': 'text/plain' },
        body: new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('x'));
            controller.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
      expect(chunked.status).toBe(413);
      expect(d.registry.getJob('report').paused).toBe(false);
    });

    it('makes no change on GET', async () => {
      expect((await fetch(`${d.dashboard}/api${path('report')}/pause`)).status).toBe(404);
      expect(d.registry.getJob('report').paused).toBe(false);
    });

    it('streams job changes and finished runs as server-sent events', async () => {
      const text = await readEvents(
        `${d.dashboard}/api/events`,
        (so) => so.includes('event: jobs') && so.includes('event: runs'),
        async () => {
          await d.registry.pauseJob('cleanup');
          await d.registry.triggerJob('cleanup');
        },
      );
      expect(text).toMatch(/event: jobs\nid: \d+\ndata: \{"names":\["cleanup"\],"all":false\}/);
      const runs = /event: runs\nid: \d+\ndata: (.*)\n/.exec(text)![1];
      expect(JSON.parse(runs)).toEqual({ entries: [expect.objectContaining({ job: 'cleanup', instance: 'instance-a', outcome: 'succeeded' })], dropped: 0 });
      await d.registry.resumeJob('cleanup');
    });
  });

  it("adds its CSRF cookie to the cookies the application's middleware set, rather than replacing them", async () => {
    const session = 'session=abc; Path=/';
    const d = await startDashboardApp(platform, { allowUnauthenticated: true }, {}, {}, (app) => {
      if (platform === 'express') {
        app.use((_request: unknown, response: { append(name: string, value: string): void }, next: () => void) => {
          response.append('Set-Cookie', session);
          next();
        });
      } else {
        type Hook = (request: unknown, reply: { header(name: string, value: string): void }, done: () => void) => void;
        const fastify = app.getHttpAdapter().getInstance() as { addHook(name: 'onRequest', hook: Hook): void };
        fastify.addHook('onRequest', (_request, reply, done) => {
          reply.header('set-cookie', session);
          done();
        });
      }
    });
    try {
      const cookies = (await fetch(d.dashboard)).headers.getSetCookie();
      expect(cookies).toHaveLength(2);
      expect(cookies).toContain(session);
      expect(cookies.find((cookie) => cookie.startsWith('metronome_csrf='))).toBeDefined();
    } finally {
      await d.app.close();
    }
  });

  describe('behind a guard, at a nested path', () => {
    @Injectable()
    class AdminKeys {
      readonly key = 'open-sesame';
    }
    @Module({ providers: [AdminKeys], exports: [AdminKeys] })
    class KeysModule {}
    @Injectable()
    class AdminGuard implements CanActivate {
      constructor(private readonly keys: AdminKeys) {}
      canActivate(context: ExecutionContext): boolean {
        return context.switchToHttp().getRequest<{ headers: Record<string, string> }>().headers['x-admin-key'] === this.keys.key;
      }
    }
    let d: DashboardApp;
    const admin = { 'x-admin-key': 'open-sesame' };

    beforeAll(async () => {
      d = await startDashboardApp(platform, { path: 'ops/scheduler', guard: AdminGuard, imports: [KeysModule] });
      await d.registry.addJob({ name: 'report', trigger: { every: 3_600_000 }, handler: () => undefined });
    });

    afterAll(() => d.app.close());

    it('refuses the page, the API, the event stream and the changes to a request the guard refuses', async () => {
      for (const url of [
        d.dashboard,
        `${d.dashboard}/api/jobs`,
        `${d.dashboard}/api/jobs/report`,
        `${d.dashboard}/api/runs`,
        `${d.dashboard}/api/instances`,
        `${d.dashboard}/api/events`,
      ]) {
        expect([url, (await fetch(url)).status]).toEqual([url, 403]);
      }
      const session = await openSession(d.dashboard, admin);
      expect((await post(d.dashboard, '/jobs/report/pause', session)).status).toBe(403);
      expect(d.registry.getJob('report').paused).toBe(false);
    });

    it('serves everything to a request the guard lets through, the guard’s dependencies injected', async () => {
      expect((await fetch(d.dashboard, { headers: admin })).status).toBe(200);
      expect((await fetch(`${d.dashboard}/api/jobs`, { headers: admin })).status).toBe(200);
      const session = await openSession(d.dashboard, admin);
      const change = await post(d.dashboard, '/jobs/report/pause', session, admin);
      expect([change.status, await change.text()]).toEqual([200, expect.any(String)]);
      expect(d.registry.getJob('report').paused).toBe(true);
      const text = await readEvents(
        `${d.dashboard}/api/events`,
        (so) => so.includes('event: jobs'),
        () => d.registry.resumeJob('report'),
        admin,
      );
      expect(text).toContain('"names":["report"]');
    });
  });

  it('takes a guard instance', async () => {
    const d = await startDashboardApp(platform, { guard: { canActivate: () => false } });
    try {
      expect((await fetch(d.dashboard)).status).toBe(403);
      expect((await fetch(`${d.dashboard}/api/jobs`)).status).toBe(403);
    } finally {
      await d.app.close();
    }
  });

  it('answers, open without a guard, only to localhost and IP addresses unless told other hosts (DNS rebinding)', async () => {
    const open = await startDashboardApp(platform, { allowUnauthenticated: true });
    const named = await startDashboardApp(platform, { allowUnauthenticated: true, allowedHosts: ['ops.example.com'] });
    const guarded = await startDashboardApp(platform, { guard: { canActivate: () => true } });
    try {
      const port = (d: { url: string }) => new URL(d.url).port;
      for (const host of ['127.0.0.1', 'localhost', `localhost:${port(open)}`, '[::1]'])
        expect([host, (await withHost(open.dashboard, host)).status]).toEqual([host, 200]);
      const refused = await withHost(`${open.dashboard}/api/jobs`, 'evil.example:3000');
      expect(refused.status).toBe(403);
      expect(JSON.parse(refused.body).message).toBe(
        'Refused: the dashboard does not answer to the host "evil.example" while it is open without a guard (localhost and IP addresses only); add it to the allowedHosts option.',
      );
      expect((await withHost(named.dashboard, 'ops.example.com')).status).toBe(200);
      expect((await withHost(named.dashboard, 'evil.example')).status).toBe(403);
      expect((await withHost(guarded.dashboard, 'evil.example')).status).toBe(200);
    } finally {
      await Promise.all([open.app.close(), named.app.close(), guarded.app.close()]);
    }
  });

  it('ends the open event streams when the application closes', async () => {
    const d = await startDashboardApp(platform, { allowUnauthenticated: true });
    const response = await fetch(`${d.dashboard}/api/events`);
    const reader = response.body!.getReader();
    await reader.read();
    await d.app.close();
    let done = false;
    while (!done) done = (await reader.read()).done;
    expect(done).toBe(true);
  });

  it('serves nothing without a guard or allowUnauthenticated, and says so at start-up', async () => {
    const d = await startDashboardApp(platform, { path: '/scheduler' });
    try {
      await d.registry.addJob({ name: 'report', trigger: { every: 3_600_000 }, handler: () => undefined });
      for (const url of [d.dashboard, `${d.dashboard}/api/jobs`, `${d.dashboard}/api/events`]) expect([url, (await fetch(url)).status]).toEqual([url, 404]);
      const change = await fetch(`${d.dashboard}/api/jobs/report/pause`, { method: 'POST', headers: { origin: d.url } });
      expect(change.status).toBe(404);
      expect(d.registry.getJob('report').paused).toBe(false);
      expect(d.logger.find('warn', DASHBOARD_OFF_WARNING)).toEqual([{ level: 'warn', message: DASHBOARD_OFF_WARNING, context: 'ScheduleDashboard' }]);
      expect(DASHBOARD_OFF_WARNING).toContain('allowUnauthenticated: true');
      expect(DASHBOARD_OFF_WARNING).toContain('the guard option');
    } finally {
      await d.app.close();
    }
  });
});

/** A GET with the Host header given (fetch does not let one set it). */
function withHost(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpGet(url, { headers: { host } }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
  });
}

describe('the event stream', () => {
  it('ends at once when opened while the application closes (a browser reconnecting): the server can close', async () => {
    const registry = { events$: NEVER } as unknown as SchedulerRegistry;
    const runSource = { runs$: () => NEVER, history: () => Promise.resolve([]) };
    const controller = new DashboardController(registry, runSource, resolveDashboardOptions({ allowUnauthenticated: true }), () => false);
    controller.onModuleDestroy();
    await expect(lastValueFrom(controller.events(), { defaultValue: 'ended' })).resolves.toBe('ended');
  });
});

describe('the HTTP answer to a registry error', () => {
  it.each([
    [new JobNotFoundError('x'), NotFoundException, 404],
    [new SchedulerNotRunningError('pause a job', 'stopped'), ConflictException, 409],
    [new StoreUnavailableError('redis', 'no answer within 5000 ms'), ServiceUnavailableException, 503],
    [new Error('boom'), InternalServerErrorException, 500],
  ])('%s → %p', (error, type, status) => {
    const answer = httpError(error);
    expect(answer).toBeInstanceOf(type);
    expect(answer.getStatus()).toBe(status);
    expect(answer.message).toBe(error.message);
  });
});
