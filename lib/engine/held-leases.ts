import { Lease } from '../stores/job-store';
import { Job } from './job';

/** Slot layout in `job.holds`: fencing token, count, and when the store last confirmed the lease (-1: lost). */
const STRIDE = 3;
const LOST = -1;

/**
 * The leases this instance holds in the store, counted: each thing that runs under a lease — a
 * run, a run held back or planned ahead, a waiting retry — holds it once, and the lease is given
 * back when nothing does. Each job keeps its own slots (`job.holds`: token, count, confirmed at;
 * rarely more than one lease), where a tick finds them without a lookup; a count of 0 is a free
 * slot, used again for the job's next lease.
 *
 * Besides the counts: when the store last confirmed each lease (a claim or a renewal, as sent by
 * this instance's clock), leases the store says are no longer this instance's (`lost`), leases
 * taken over from this instance by itself (renamed), and leases handed back (never released).
 */
export class HeldLeases {
  /** The jobs with slots. */
  private readonly jobs = new Set<Job>();
  /** Tokens a lease had before this instance took it over from itself: old token → new token. */
  private readonly renamed = new Map<Job, Map<number, number>>();
  /** Tokens handed back to the store: not to be released once nothing holds them. */
  private readonly handed = new Map<Job, Set<number>>();

  /** Notes a lease the store just gave (a won claim), confirmed as of `at`, before anything holds it. */
  won(job: Job, token: number, at: number): void {
    const slot = this.slot(job, token, true);
    job.holds![slot + 2] = at;
  }

  /**
   * Something begins (+1) or ends (-1) holding the lease, or (0) a won lease is not used. Returns
   * the token to release when nothing holds the lease any more (unless it was handed back), else
   * `null`. `now` is read only for a lease held without a claim confirming it.
   */
  change(job: Job, token: number, change: 1 | -1 | 0, now: () => number): number | null {
    token = this.current(job, token);
    const slot = this.slot(job, token, change > 0);
    const holds = job.holds;
    if (slot >= 0 && holds) {
      const count = holds[slot + 1] + change;
      if (count > 0) {
        // A lease held without a claim of this instance's confirming it (taken over): confirmed now.
        if (holds[slot + 2] === 0) holds[slot + 2] = now();
        holds[slot + 1] = count;
        return null;
      }
      holds[slot + 1] = 0;
      this.forgetRenamed(job, token);
    }
    return this.forgetHanded(job, token) ? null : token;
  }

  /** Whether the store has not said that the lease is another's. */
  owns(job: Job, token: number | undefined): boolean {
    if (token === undefined) return true;
    const holds = job.holds;
    if (!holds) return true;
    const slot = this.find(holds, this.current(job, token));
    return slot < 0 || holds[slot + 2] !== LOST;
  }

  /**
   * The leases something holds, to renew, with their jobs: those the store confirmed last at or
   * before `confirmedBy`. Jobs that hold nothing any more are let go.
   */
  active(confirmedBy = Infinity): Array<{ job: Job; lease: Lease }> {
    const leases: Array<{ job: Job; lease: Lease }> = [];
    for (const job of this.jobs) {
      const holds = job.holds!;
      let held = false;
      for (let i = 0; i < holds.length; i += STRIDE) {
        if (holds[i + 1] === 0) continue;
        held = true;
        if (holds[i + 2] !== LOST && holds[i + 2] <= confirmedBy) leases.push({ job, lease: { job: job.name, fencingToken: holds[i] } });
      }
      if (held) continue;
      job.holds = null;
      this.jobs.delete(job);
    }
    return leases;
  }

  /** The store confirmed the lease as of `at` (when the renewal was sent). */
  confirm(job: Job, token: number, at: number): void {
    const slot = job.holds ? this.find(job.holds, token) : -1;
    if (slot >= 0 && job.holds![slot + 2] !== LOST) job.holds![slot + 2] = at;
  }

  /** When the store last confirmed the lease (as sent by this instance's clock); `null` if it is not held here, or lost. */
  confirmedAt(job: Job, token: number): number | null {
    const slot = job.holds ? this.find(job.holds, token) : -1;
    return slot >= 0 && job.holds![slot + 2] !== LOST ? job.holds![slot + 2] : null;
  }

  /** The store said the lease is another's, or it ran out unconfirmed: nothing more starts under it. */
  lose(job: Job, token: number): void {
    const slot = job.holds ? this.find(job.holds, token) : -1;
    if (slot >= 0) job.holds![slot + 2] = LOST;
  }

  /** Leases held by something and confirmed last at or before `before`: they may have run out in the store. */
  unconfirmedSince(before: number): Array<{ job: Job; token: number }> {
    const stale: Array<{ job: Job; token: number }> = [];
    for (const job of this.jobs) {
      const holds = job.holds!;
      for (let i = 0; i < holds.length; i += STRIDE) {
        if (holds[i + 1] > 0 && holds[i + 2] !== LOST && holds[i + 2] <= before) stale.push({ job, token: holds[i] });
      }
    }
    return stale;
  }

  /**
   * The store gave this instance a lease `to` that was its own `from` (it ran out while this
   * instance still ran under it, and this instance's sweep took it over): what holds `from` now
   * holds `to`. Returns false if nothing here holds `from` (a run of another life of this instance).
   */
  rename(job: Job, from: number, to: number, at: number): boolean {
    const holds = job.holds;
    const slot = holds ? this.find(holds, from) : -1;
    if (slot < 0 || holds![slot + 1] === 0) return false;
    holds![slot] = to;
    holds![slot + 2] = at;
    let tokens = this.renamed.get(job);
    if (!tokens) this.renamed.set(job, (tokens = new Map()));
    for (const [old, now] of tokens) if (now === from) tokens.set(old, to);
    tokens.set(from, to);
    return true;
  }

  /** How many things hold the lease. */
  count(job: Job, token: number): number {
    const holds = job.holds;
    const slot = holds ? this.find(holds, this.current(job, token)) : -1;
    return slot < 0 ? 0 : holds![slot + 1];
  }

  /** The lease was handed back: when nothing holds it any more, it is not released. */
  handOver(job: Job, token: number): void {
    token = this.current(job, token);
    let tokens = this.handed.get(job);
    if (!tokens) this.handed.set(job, (tokens = new Set()));
    tokens.add(token);
  }

  /** The tokens work under the lease `token` may carry: its own, and those it had before it was renamed. */
  tokensOf(job: Job, token: number): number[] {
    const tokens = [token];
    for (const [old, now] of this.renamed.get(job) ?? []) if (now === token) tokens.push(old);
    return tokens;
  }

  /** The token a lease has now: its own, or the one it was renamed to. */
  current(job: Job, token: number): number {
    return this.renamed.size === 0 ? token : (this.renamed.get(job)?.get(token) ?? token);
  }

  private forgetRenamed(job: Job, token: number): void {
    const tokens = this.renamed.get(job);
    if (!tokens) return;
    for (const [old, now] of tokens) if (now === token) tokens.delete(old);
    if (tokens.size === 0) this.renamed.delete(job);
  }

  private forgetHanded(job: Job, token: number): boolean {
    const tokens = this.handed.get(job);
    if (!tokens?.delete(token)) return false;
    if (tokens.size === 0) this.handed.delete(job);
    return true;
  }

  /** The slot of `token` in the job's holds; with `make`, a free one (or a new one) when it has none. */
  private slot(job: Job, token: number, make: boolean): number {
    let holds = job.holds;
    if (!holds) {
      if (!make) return -1;
      job.holds = holds = [];
      this.jobs.add(job);
    }
    let free = -1;
    for (let i = 0; i < holds.length; i += STRIDE) {
      if (holds[i] === token) return i;
      if (holds[i + 1] === 0 && free < 0) free = i;
    }
    if (!make) return -1;
    const at = free < 0 ? holds.length : free;
    holds[at] = token;
    holds[at + 1] = 0;
    holds[at + 2] = 0;
    return at;
  }

  private find(holds: number[], token: number): number {
    for (let i = 0; i < holds.length; i += STRIDE) if (holds[i] === token && holds[i + 1] > 0) return i;
    return -1;
  }
}
