/** An instance of the application, as `SchedulerRegistry.instances()` lists it. */
export interface InstanceInfo {
  /** Its `instanceId`: the name its leases carry. */
  id: string;
  /** The machine it runs on (`os.hostname()`). */
  host: string;
  pid: number;
  /** When its scheduler started. */
  startedAt: Date;
  /** When it last checked in, by the store's clock (now, for an instance without a shared store). */
  lastCheckIn: Date;
  /** How many runs it had in flight then. */
  running: number;
  /** The jobs of those runs (at most 20). */
  runningJobs: string[];
}
