/** The injection token of the dashboard's resolved options. */
export const DASHBOARD_OPTIONS = Symbol('DASHBOARD_OPTIONS');
