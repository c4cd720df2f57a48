/**
 * The most entries one store call carries: claims, leases, registrations, rows read. A call's
 * arguments and its reply never grow with the number of jobs, so that a hundred thousand jobs due
 * at one instant are as many bounded calls, and other instances' calls go in between them.
 */
export const BATCH_SIZE = 1_000;

/**
 * How many pages of expired leases one sweep reads at most, looking past the leases it leaves for
 * other instances (runs to take over of jobs it does not have).
 */
export const MAX_SWEEP_PAGES = 20;

/** `call` on `items`, `size` at a time, one batch after another; the answers, in order. */
export async function inBatches<T, R>(items: readonly T[], call: (batch: readonly T[]) => Promise<R[]>, size = BATCH_SIZE): Promise<R[]> {
  if (items.length <= size) return call(items);
  const answers: R[] = [];
  for (let start = 0; start < items.length; start += size) {
    const answer = await call(items.slice(start, start + size));
    for (const value of answer) answers.push(value);
  }
  return answers;
}

/** `items` cut in batches of at most `size`. */
export function batches<T>(items: readonly T[], size = BATCH_SIZE): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += size) out.push(items.slice(start, start + size));
  return out;
}
