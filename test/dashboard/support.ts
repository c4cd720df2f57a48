import { INestApplication, Module, ModuleMetadata } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { ScheduleDashboardModule, ScheduleDashboardOptions, ScheduleModule, ScheduleModuleOptions, SchedulerRegistry } from '../../lib';
import { RecordingLogger } from '../support/nest';

export type Platform = 'express' | 'fastify';
export const PLATFORMS: Platform[] = ['express', 'fastify'];

/** An application with the scheduler and the dashboard, listening on a free port of 127.0.0.1. */
export interface DashboardApp {
  app: INestApplication;
  registry: SchedulerRegistry;
  logger: RecordingLogger;
  /** The application's root URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** The dashboard's URL. */
  dashboard: string;
}

export async function startDashboardApp(
  platform: Platform,
  dashboard: ScheduleDashboardOptions,
  schedule: ScheduleModuleOptions = {},
  extra: ModuleMetadata = {},
  /** Called with the application before it listens: middleware, hooks. */
  configure: (app: INestApplication) => void = () => undefined,
): Promise<DashboardApp> {
  @Module({
    imports: [ScheduleModule.forRoot(schedule), ScheduleDashboardModule.forRoot(dashboard), ...(extra.imports ?? [])],
    providers: extra.providers ?? [],
    controllers: extra.controllers ?? [],
  })
  class AppModule {}
  const logger = new RecordingLogger();
  const adapter = platform === 'express' ? new ExpressAdapter() : new FastifyAdapter();
  const app = await NestFactory.create(AppModule, adapter, { logger });
  configure(app);
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  const path = (dashboard.path ?? '/scheduler').replace(/^\/+|\/+$/g, '');
  return { app, registry: app.get(SchedulerRegistry), logger, url, dashboard: `${url}/${path}` };
}

/** What a browser keeps of the page: the CSRF token in it and the cookie that came with it. */
export interface Session {
  token: string;
  cookie: string;
}

/** Loads the page as a browser would, and keeps its token and cookie. */
export async function openSession(dashboard: string, headers: Record<string, string> = {}): Promise<Session> {
  const response = await fetch(dashboard, { headers });
  const html = await response.text();
  const token = /<meta name="metronome-csrf" content="([^"]+)">/.exec(html)?.[1];
  const setCookie = response.headers.get('set-cookie') ?? '';
  if (!token || !setCookie) throw new Error(`The page at ${dashboard} gave no CSRF token (status ${response.status}).`);
  return { token, cookie: setCookie.split(';')[0] };
}

/** A change as the page makes it: POST, same origin, the token in its header, the cookie; `headers` override those ('' leaves one out). */
export function post(dashboard: string, path: string, session: Session, headers: Record<string, string> = {}): Promise<Response> {
  const all: Record<string, string> = { origin: new URL(dashboard).origin, 'x-metronome-csrf': session.token, cookie: session.cookie, ...headers };
  // A header given as '' is left out.
  return fetch(`${dashboard}/api${path}`, { method: 'POST', headers: Object.fromEntries(Object.entries(all).filter(([, value]) => value !== '')) });
}

/** Waits (in real time: a server or browser is involved) until `check` holds, failing with `what` after `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
