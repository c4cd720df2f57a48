import { Trigger } from '../triggers/trigger';
import { fnv1a } from './hash';

/** Fingerprints made so far: triggers are immutable and shared, and a claim is made for every tick. */
const made = new WeakMap<Trigger, string>();

/**
 * A short fingerprint of what a trigger is (its `toString()`), sent with every claim to notice two
 * definitions of one job: the 32-bit FNV-1a hash of the text, in hex. The text itself is
 * registered beside it, for messages.
 */
export function fingerprint(trigger: Trigger): string {
  let hash = made.get(trigger);
  if (hash === undefined) {
    made.set(trigger, (hash = fnv1a(trigger.toString()).toString(16).padStart(8, '0')));
  }
  return hash;
}
