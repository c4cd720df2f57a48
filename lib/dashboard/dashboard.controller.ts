import { Get, HttpCode, Inject, Logger, MessageEvent, OnModuleDestroy, Param, Post, Query, Req, Res, Sse, UseGuards } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Observable, Subject, takeUntil } from 'rxjs';
import { errorMessage } from '../errors';
import { InstanceInfo } from '../interfaces/instance-info.interface';
import { SchedulerRegistry } from '../registry/scheduler.registry';
import { DASHBOARD_OPTIONS } from './dashboard.constants';
import { ResolvedDashboardOptions } from './dashboard-options';
import { renderPage } from './dashboard-page';
import { CSRF_COOKIE, cookie, csrfCookie, DashboardRequest, isCsrfToken, isSecure, MutationGuard, newCsrfToken } from './dashboard-security';
import { dashboardStream } from './dashboard-stream';
import { DashboardJob, DashboardJobDetail, jobView, newestFirst } from './dashboard-view';
import { answer } from './http-errors';
import { DASHBOARD_RUN_SOURCE, DashboardRunSource, RunHistoryEntry } from './run-source';
import { DashboardResponse, pagePolicy } from './security-headers';

/** How many jobs `GET api/runs` reads the history of: the most recently run. */
const RECENT_JOBS = 50;

/**
 * The dashboard's routes, below the path given to `ScheduleDashboardModule.forRoot()` (the module
 * makes a subclass with that path and the guard; see `dashboard.module.ts`):
 *
 * | route | answer |
 * |---|---|
 * | `GET {path}` | the page |
 * | `GET {path}/api/jobs` | every job ({@link DashboardJob}[]) |
 * | `GET {path}/api/jobs/:name` | one job with its last runs ({@link DashboardJobDetail}) |
 * | `GET {path}/api/runs?limit=n` | the last runs of the most recently run jobs, newest first |
 * | `GET {path}/api/instances` | the live instances (`InstanceInfo[]`) |
 * | `GET {path}/api/events` | server-sent events: `jobs`, `runs`, `ping` |
 * | `POST {path}/api/jobs/:name/pause`, `/resume`, `/trigger`, `/remove` | the changes |
 */
export class DashboardController implements OnModuleDestroy {
  private readonly logger = new Logger('ScheduleDashboard');
  private readonly closing = new Subject<void>();

  constructor(
    @Inject(SchedulerRegistry) private readonly registry: SchedulerRegistry,
    @Inject(DASHBOARD_RUN_SOURCE) private readonly runSource: DashboardRunSource,
    @Inject(DASHBOARD_OPTIONS) private readonly options: ResolvedDashboardOptions,
  ) {}

  /** Ends the open event streams, so that the server can close. */
  onModuleDestroy(): void {
    this.closing.next();
    this.closing.complete();
  }

  @Get()
  page(@Req() request: DashboardRequest, @Res({ passthrough: true }) response: DashboardResponse): string {
    const nonce = randomBytes(16).toString('base64');
    const given = cookie(request, CSRF_COOKIE);
    // One token per browser: a second tab keeps the first one's, so that both can make changes.
    const csrf = isCsrfToken(given) ? given : newCsrfToken();
    response.header('Content-Type', 'text/html; charset=utf-8');
    response.header('Content-Security-Policy', pagePolicy(nonce));
    if (csrf !== given) response.header('Set-Cookie', csrfCookie(csrf, isSecure(request)));
    return renderPage({ nonce, csrf, title: this.options.title, historyLimit: this.options.historyLimit });
  }

  @Get('api/jobs')
  jobs(): DashboardJob[] {
    return this.registry
      .listJobs()
      .map(jobView)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  @Get('api/jobs/:name')
  job(@Param('name') name: string): Promise<DashboardJobDetail> {
    return answer(async () => {
      const job = jobView(this.registry.getJob(name));
      const history = await this.runSource.history(name, this.options.historyLimit);
      return { ...job, history: newestFirst(history, this.options.historyLimit) };
    });
  }

  @Get('api/runs')
  runs(@Query('limit') limit?: string): Promise<RunHistoryEntry[]> {
    const wanted = Math.min(Math.max(Math.trunc(Number(limit ?? this.options.historyLimit)) || this.options.historyLimit, 1), 100);
    return answer(async () => {
      const recent = this.registry
        .listJobs()
        .sort((a, b) => (b.lastRunAt?.getTime() ?? -Infinity) - (a.lastRunAt?.getTime() ?? -Infinity))
        .slice(0, RECENT_JOBS);
      const histories = await Promise.all(recent.map((job) => this.runSource.history(job.name, wanted).catch(() => [])));
      return newestFirst(histories.flat(), wanted);
    });
  }

  @Get('api/instances')
  instances(): Promise<InstanceInfo[]> {
    return answer(() => this.registry.instances());
  }

  @Sse('api/events')
  events(): Observable<MessageEvent> {
    return dashboardStream(this.registry.events$, this.runSource.runs$()).pipe(takeUntil(this.closing));
  }

  @Post('api/jobs/:name/pause')
  @HttpCode(200)
  @UseGuards(MutationGuard)
  pause(@Param('name') name: string): Promise<{ job: DashboardJob }> {
    return answer(async () => {
      await this.registry.pauseJob(name);
      return { job: jobView(this.registry.getJob(name)) };
    });
  }

  @Post('api/jobs/:name/resume')
  @HttpCode(200)
  @UseGuards(MutationGuard)
  resume(@Param('name') name: string): Promise<{ job: DashboardJob }> {
    return answer(async () => {
      await this.registry.resumeJob(name);
      return { job: jobView(this.registry.getJob(name)) };
    });
  }

  /** Runs the job now; answers 202 at once, without waiting for the run (its outcome comes as a `runs` event). */
  @Post('api/jobs/:name/trigger')
  @HttpCode(202)
  @UseGuards(MutationGuard)
  trigger(@Param('name') name: string): Promise<{ triggered: string }> {
    return answer(() => {
      this.registry.getJob(name);
      this.registry.triggerJob(name).catch((error: unknown) => this.logger.warn(`Job "${name}" could not be run from the dashboard: ${errorMessage(error)}`));
      return { triggered: name };
    });
  }

  @Post('api/jobs/:name/remove')
  @HttpCode(200)
  @UseGuards(MutationGuard)
  remove(@Param('name') name: string): Promise<{ removed: string }> {
    return answer(async () => {
      await this.registry.removeJob(name);
      return { removed: name };
    });
  }
}
