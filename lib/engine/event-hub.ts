import { SchedulerEvent, SchedulerEventType } from '../events';

/** Receives scheduler events. */
export type SchedulerEventListener = (event: SchedulerEvent) => void;

type EventOf<T extends SchedulerEventType> = Extract<SchedulerEvent, { type: T }>;

/**
 * A minimal synchronous event emitter. Events are only built when someone listens to their type,
 * so a busy scheduler with nobody watching run events does not allocate them.
 */
export class EventHub {
  private readonly all = new Set<SchedulerEventListener>();
  private readonly byType = new Map<SchedulerEventType, Set<SchedulerEventListener>>();

  constructor(private readonly onListenerError: (error: unknown, event: SchedulerEvent) => void) {}

  /**
   * Subscribes to every event, or only to the given types. Returns the function that unsubscribes.
   * A listener that throws is isolated: its error goes to `onListenerError`.
   */
  on(listener: SchedulerEventListener, types?: readonly SchedulerEventType[]): () => void {
    if (!types) {
      this.all.add(listener);
      return () => this.all.delete(listener);
    }
    for (const type of types) {
      let set = this.byType.get(type);
      if (!set) this.byType.set(type, (set = new Set()));
      set.add(listener);
    }
    return () => {
      for (const type of types) {
        const set = this.byType.get(type);
        set?.delete(listener);
        if (set?.size === 0) this.byType.delete(type);
      }
    };
  }

  /** Whether anyone listens to events of this type. Asked for every run: two cheap checks. */
  wants(type: SchedulerEventType): boolean {
    return this.all.size > 0 || this.byType.has(type);
  }

  /** Builds the event with `make` and delivers it, only if someone listens to `type`. */
  emit<T extends SchedulerEventType>(type: T, make: () => Omit<EventOf<T>, 'type'>): void {
    if (!this.wants(type)) return;
    const event = { type, ...make() } as SchedulerEvent;
    for (const listener of this.all) this.deliver(listener, event);
    const typed = this.byType.get(type);
    if (typed) for (const listener of typed) this.deliver(listener, event);
  }

  private deliver(listener: SchedulerEventListener, event: SchedulerEvent): void {
    try {
      listener(event);
    } catch (error) {
      // A listener must not break the scheduler, nor the other listeners.
      this.onListenerError(error, event);
    }
  }
}
