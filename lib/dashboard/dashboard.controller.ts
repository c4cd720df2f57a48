import { ConflictException, Get, HttpCode, Inject, Logger, MessageEvent, OnModuleDestroy, Param, Post, Query, Req, Res, Sse, UseGuards } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { EMPTY, Observable, Subject, takeUntil } from 'rxjs';
import { errorMessage } from '../errors';
import { JobInfo } from '../engine/job';
import { InstanceInfo } from '../interfaces/instance-info.interface';
import { SchedulerRegistry } from '../registry/scheduler.registry';
import { DASHBOARD_OPTIONS, DASHBOARD_SHARED_STORE } from './dashboard.constants';
import { ResolvedDashboardOptions } from './dashboard-options';
import { renderPage } from './dashboard-page';
import { CSRF_COOKIE, cookie, csrfCookie, DashboardRequest, isCsrfToken, isSecure, MutationGuard, newCsrfToken } from './dashboard-security';
import { dashboardStream } from './dashboard-stream';
import { DashboardJob, DashboardJobDetail, jobView, newestFirst } from './dashboard-view';
import { answer } from './http-errors';
import { DASHBOARD_RUN_SOURCE, DashboardRunSource, RunHistoryEntry } from './run-source';
import { addCookie, DashboardResponse, pagePolicy } from './security-headers';

/** How long a job's last run, once read, is shown without reading it again (the page's live updates carry the runs in between). */
const LAST_RUN_FRESH_MS = 5_000;
/** How many jobs' last runs are read from the run source at once. */
const LAST_RUN_READS = 16;

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
  /** The application is closing: a stream opened now (a browser reconnecting) ends at once. */
  private closed = false;
  /** Each job's last run as the run source gave it, and when it was read (see {@link withLastRuns}). */
  private readonly lastRuns = new Map<string, { run: RunHistoryEntry | undefined; readAt: number }>();

  constructor(
    @Inject(SchedulerRegistry) private readonly registry: SchedulerRegistry,
    @Inject(DASHBOARD_RUN_SOURCE) private readonly runSource: DashboardRunSource,
    @Inject(DASHBOARD_OPTIONS) private readonly options: ResolvedDashboardOptions,
    @Inject(DASHBOARD_SHARED_STORE) private readonly sharedStore: () => boolean,
  ) {}

  /** Ends the open event streams, so that the server can close. */
  onModuleDestroy(): void {
    this.closed = true;
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
    if (csrf !== given) addCookie(response, csrfCookie(csrf, isSecure(request)));
    return renderPage({ nonce, csrf, title: this.options.title, historyLimit: this.options.historyLimit });
  }

  @Get('api/jobs')
  jobs(): Promise<DashboardJob[]> {
    return answer(async () => {
      const jobs = await this.withLastRuns(this.registry.listJobs());
      return jobs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    });
  }

  @Get('api/jobs/:name')
  job(@Param('name') name: string): Promise<DashboardJobDetail> {
    return answer(async () => {
      const info = this.registry.getJob(name);
      const history = newestFirst(await this.runSource.history(name, this.options.historyLimit), this.options.historyLimit);
      return { ...jobView(info, this.sharedStore(), history[0]), history };
    });
  }

  @Get('api/runs')
  runs(@Query('limit') limit?: string): Promise<RunHistoryEntry[]> {
    const wanted = Math.min(Math.max(Math.trunc(Number(limit ?? this.options.historyLimit)) || this.options.historyLimit, 1), 100);
    return answer(async () => {
      const jobs = await this.withLastRuns(this.registry.listJobs());
      const recent = jobs.sort((a, b) => (b.lastRunAt?.getTime() ?? -Infinity) - (a.lastRunAt?.getTime() ?? -Infinity)).slice(0, RECENT_JOBS);
      const histories = await Promise.all(recent.map((job) => this.runSource.history(job.name, wanted).catch(() => [])));
      return newestFirst(histories.flat(), wanted);
    });
  }

  /**
   * The jobs as the dashboard shows them, each with its last run as the run history has it: in a
   * cluster whose store keeps one, the last run on any instance, so that every instance's page
   * shows the same. A job whose history cannot be read shows this instance's last run. Each is
   * read again at most every {@link LAST_RUN_FRESH_MS}, {@link LAST_RUN_READS} at a time, however
   * many pages ask: the store is read at most once per job per 5 s by each instance.
   */
  private async withLastRuns(infos: JobInfo[]): Promise<DashboardJob[]> {
    const now = Date.now();
    const stale = infos.filter((info) => (this.lastRuns.get(info.name)?.readAt ?? -Infinity) < now - LAST_RUN_FRESH_MS);
    // A few reads at a time: with a shared store, one per job.
    for (let i = 0; i < stale.length; i += LAST_RUN_READS) {
      await Promise.all(
        stale.slice(i, i + LAST_RUN_READS).map((info) =>
          this.runSource.history(info.name, 1).then(
            (runs) => this.lastRuns.set(info.name, { run: runs[0], readAt: now }),
            () => undefined,
          ),
        ),
      );
    }
    // Jobs that went are forgotten.
    if (this.lastRuns.size > infos.length) {
      const names = new Set(infos.map((info) => info.name));
      for (const name of this.lastRuns.keys()) if (!names.has(name)) this.lastRuns.delete(name);
    }
    return infos.map((info) => jobView(info, this.sharedStore(), this.lastRuns.get(info.name)?.run));
  }

  @Get('api/instances')
  instances(): Promise<InstanceInfo[]> {
    return answer(() => this.registry.instances());
  }

  @Sse('api/events')
  events(): Observable<MessageEvent> {
    if (this.closed) return EMPTY;
    return dashboardStream(this.registry.events$, this.runSource.runs$()).pipe(takeUntil(this.closing));
  }

  @Post('api/jobs/:name/pause')
  @HttpCode(200)
  @UseGuards(MutationGuard)
  pause(@Param('name') name: string): Promise<{ job: DashboardJob }> {
    return answer(async () => {
      await this.registry.pauseJob(name);
      return { job: jobView(this.registry.getJob(name), this.sharedStore()) };
    });
  }

  @Post('api/jobs/:name/resume')
  @HttpCode(200)
  @UseGuards(MutationGuard)
  resume(@Param('name') name: string): Promise<{ job: DashboardJob }> {
    return answer(async () => {
      await this.registry.resumeJob(name);
      return { job: jobView(this.registry.getJob(name), this.sharedStore()) };
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
      if (!jobView(this.registry.getJob(name), this.sharedStore()).removable) {
        throw new ConflictException(
          `Job "${name}" is defined in the code of every instance: removed here, it would go on running on the others. Pause it to stop it everywhere.`,
        );
      }
      await this.registry.removeJob(name);
      return { removed: name };
    });
  }
}
