/** Injection token of the resolved module options. */
export const SCHEDULE_MODULE_OPTIONS = Symbol('SCHEDULE_MODULE_OPTIONS');
