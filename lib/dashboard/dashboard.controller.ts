import { ConflictException, Get, HttpCode, Inject, Logger, MessageEvent, OnModuleDestroy, Param, Post, Query, Req, Res, Sse, UseGuards } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Observable, Subject, takeUntil } from 'rxjs';
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
    @Inject(DASHBOARD_SHARED_STORE) private readonly sharedStore: () => boolean,
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
   * shows the same. A job whose history cannot be read shows this instance's last run.
   */
  private async withLastRuns(infos: JobInfo[]): Promise<DashboardJob[]> {
    const lasts = await Promise.all(
      infos.map((info) =>
        this.runSource.history(info.name, 1).then(
          (runs) => runs[0],
          () => undefined,
        ),
      ),
    );
    return infos.map((info, index) => jobView(info, this.sharedStore(), lasts[index]));
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
