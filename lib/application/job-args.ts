import { InvalidScheduleError } from '../errors';

/** Keys refused in JSON arguments: they would reach an object's prototype when merged elsewhere. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * The most JSON arguments may take, in bytes of UTF-8 JSON (64 KiB): they are stored with the job
 * and copied for each run. Pass a reference to large data (an id, a key), not the data.
 */
export const MAX_ARGS_BYTES = 64 * 1024;

/** How deep JSON arguments may nest, counting the array of arguments itself (`[{ a: [] }]` is 3 levels). */
export const MAX_ARGS_DEPTH = 32;

/**
 * Checks that `args` is an array of plain JSON values (null, booleans, finite numbers, strings,
 * arrays, plain objects), nested at most {@link MAX_ARGS_DEPTH} levels and at most
 * {@link MAX_ARGS_BYTES} of JSON, as a stored job needs; throws {@link InvalidScheduleError}
 * naming the path of the first value that is not (`args[1].when`).
 */
export function assertJsonArgs(job: string, args: unknown): void {
  if (!Array.isArray(args)) throw new InvalidScheduleError(job, 'args', args, 'must be an array.');
  // Recursive, but never deeper than MAX_ARGS_DEPTH: arguments nested thousands of levels deep are refused, not a stack overflow.
  const visit = (value: unknown, path: string, seen: Set<object>, depth: number): void => {
    if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new InvalidScheduleError(job, path, value, 'is not a JSON value (numbers must be finite).');
      return;
    }
    if (typeof value !== 'object') throw new InvalidScheduleError(job, path, value, `is not a JSON value (${typeof value}).`);
    if (seen.has(value)) throw new InvalidScheduleError(job, path, '[Circular]', 'is a circular reference.');
    if (depth > MAX_ARGS_DEPTH) {
      throw new InvalidScheduleError(
        job,
        path,
        Array.isArray(value) ? '[…]' : '{…}',
        `nests deeper than ${MAX_ARGS_DEPTH} levels, the most JSON arguments may.`,
      );
    }
    seen.add(value);
    if (Array.isArray(value)) {
      value.forEach((item, index) => visit(item, `${path}[${index}]`, seen, depth + 1));
    } else {
      const prototype = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null) {
        const kind = prototype?.constructor?.name;
        throw new InvalidScheduleError(
          job,
          path,
          value,
          `is not a plain JSON object (${kind && kind !== 'Object' ? `it is a ${kind}` : 'it has a prototype of its own'}).`,
        );
      }
      for (const key of Object.keys(value)) {
        if (FORBIDDEN_KEYS.has(key)) throw new InvalidScheduleError(job, `${path}.${key}`, key, 'is a key that JSON arguments may not use.');
        visit((value as Record<string, unknown>)[key], `${path}.${key}`, seen, depth + 1);
      }
    }
    seen.delete(value);
  };
  visit(args, 'args', new Set(), 1);
  const bytes = Buffer.byteLength(JSON.stringify(args));
  if (bytes > MAX_ARGS_BYTES) {
    throw new InvalidScheduleError(
      job,
      'args',
      bytes,
      `bytes of JSON are more than ${MAX_ARGS_BYTES} (64 KiB), the most a job's arguments may take: pass a reference to the data (an id, a key), not the data.`,
    );
  }
}

/**
 * Whether `value` nests arrays and objects deeper than `limit` levels (`[{}]` is 2). Walks without
 * recursion and stops past the limit, so that untrusted data of any depth is measured safely.
 */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const pending: Array<[unknown, number]> = [[value, 1]];
  while (pending.length > 0) {
    const [item, depth] = pending.pop()!;
    if (item === null || typeof item !== 'object') continue;
    if (depth > limit) return true;
    for (const child of Object.values(item)) pending.push([child, depth + 1]);
  }
  return false;
}

/**
 * Checks that `args` survives `structuredClone`, as anything sent to a worker thread must; throws
 * {@link InvalidScheduleError} naming the path of the deepest field that cannot cross (`args[1].file`).
 */
export function assertCloneableArgs(job: string, args: unknown): void {
  if (!Array.isArray(args)) throw new InvalidScheduleError(job, 'args', args, 'must be an array.');
  const found = uncloneable(args, 'args');
  if (found) {
    throw new InvalidScheduleError(job, found.path, found.value, `cannot be sent to a worker thread: ${found.error.message}`, { cause: found.error });
  }
}

/**
 * The value that `structuredClone` refuses, with its path, or `null` if it takes the whole. Arrays
 * and plain objects are searched further; anything else (a file handle, a socket) is the culprit.
 */
function uncloneable(value: unknown, path: string): { path: string; value: unknown; error: Error } | null {
  try {
    structuredClone(value);
    return null;
  } catch (error) {
    const prototype = typeof value === 'object' && value !== null ? Object.getPrototypeOf(value) : undefined;
    if (Array.isArray(value) || prototype === Object.prototype || prototype === null) {
      for (const [key, child] of Object.entries(value as object)) {
        const found = uncloneable(child, Array.isArray(value) ? `${path}[${key}]` : `${path}.${key}`);
        if (found) return found;
      }
    }
    return { path, value, error: error as Error };
  }
}
