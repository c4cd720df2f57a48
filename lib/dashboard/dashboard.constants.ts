/** The injection token of the dashboard's resolved options. */
export const DASHBOARD_OPTIONS = Symbol('DASHBOARD_OPTIONS');
/** The injection token of a function that says whether the scheduler's store is shared by instances (a cluster). */
export const DASHBOARD_SHARED_STORE = Symbol('DASHBOARD_SHARED_STORE');
