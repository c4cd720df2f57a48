import { setJobHandler } from './schedule-metadata';

/**
 * Marks a provider method as a job handler: jobs added at run time, and jobs read back from a
 * store, may call it. Methods without this mark (or a schedule decorator) cannot be targeted, so a
 * row written into a store cannot call arbitrary code.
 *
 * @param name How jobs refer to the method; defaults to the method's own name.
 * @publicApi
 */
export function JobHandler(name?: string): MethodDecorator {
  return (_target, _key, descriptor) => {
    setJobHandler(descriptor.value as object, { name });
    return descriptor;
  };
}
