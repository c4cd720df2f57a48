import { Injectable } from '@nestjs/common';
import { Cron, Interval, JobContext, JobCtx, Timeout } from 'nestjs-metronome';
import { shown } from './observations';

/** What a handler saw of the context it was given. */
export interface ContextSeen {
  name: unknown;
  scheduledAt: unknown;
  signal: unknown;
  aborted: unknown;
  isJobContext: boolean;
}

function seeContext(context: { name: string; scheduledAt: Date; signal: AbortSignal }): ContextSeen {
  return {
    name: shown(context.name),
    scheduledAt: shown(context.scheduledAt),
    signal: shown(context.signal),
    aborted: shown(context.signal?.aborted),
    isJobContext: context instanceof JobContext,
  };
}

/**
 * A handler written for `@nestjs/schedule`, with an optional parameter, and handlers that ask for
 * their context: what each was called with.
 */
@Injectable()
export class HandlerArguments {
  /** What `force` was, at each call of `legacy`. */
  readonly forces: unknown[] = [];
  readonly contexts: ContextSeen[] = [];
  readonly markedContexts: ContextSeen[] = [];

  @Cron('0 * * * *')
  @Interval(3_600_000)
  @Timeout(1_000)
  legacy(force = false) {
    this.forces.push(shown(force));
  }

  @Interval('probe.typed', 3_600_000)
  typed(context: JobContext) {
    this.contexts.push(seeContext(context));
  }

  @Cron('30 * * * *', { name: 'probe.marked' })
  marked(@JobCtx() context: { name: string; scheduledAt: Date; signal: AbortSignal }) {
    this.markedContexts.push(seeContext(context));
  }
}
