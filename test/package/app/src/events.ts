import { Injectable } from '@nestjs/common';
import { filter } from 'rxjs';
import { SchedulerRegistry } from 'nestjs-metronome';
import type { RunFailedEvent } from 'nestjs-metronome';

/** Stands for an alerting service: keeps what it was sent. */
@Injectable()
export class Alerts {
  readonly sent: string[] = [];

  send(message: string): void {
    this.sent.push(message);
  }
}

// README: "Events", both ways of filtering, and a job that fails once.

/** The README's subscriptions to the events, and a job whose one run fails. */
@Injectable()
export class EventsExamples {
  constructor(
    private readonly registry: SchedulerRegistry,
    private readonly alerts: Alerts,
  ) {}

  /** Alerts on failed runs, narrowing the event by its `type`. */
  alertOnFailures(): void {
    this.registry.events$
      .pipe(filter((event) => event.type === 'run.failed'))
      .subscribe((event) => this.alerts.send(`${event.job} failed: ${event.error}`));
  }

  /** The same, with a type guard. */
  alertOnFailuresWithATypeGuard(): void {
    this.registry.events$
      .pipe(filter((event): event is RunFailedEvent => event.type === 'run.failed'))
      .subscribe((event) => this.alerts.send(`${event.job} failed: ${event.error}`));
  }

  /** Adds a job that runs once, and fails. */
  async addFailingJob(): Promise<void> {
    const fail = () => {
      throw new Error('disk full (a failure the events example expects)');
    };
    await this.registry.addJob({ name: 'flaky', trigger: { every: 3_600_000 }, maxRuns: 1, handler: fail });
  }
}
