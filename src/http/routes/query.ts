import { GerbangError } from '../../errors/gerbang-error.js';

/** The link to the next page: the same query, `offset` moved on. */
export function nextLink(path: string, query: object, offset: number): string {
  const params = Object.entries({ ...query, offset }).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]);
  return `${path}?${new URLSearchParams(params).toString()}`;
}

/** `from`/`to` query parameters (date-times, checked by the route schema) as epoch milliseconds. */
export function timeRange(from: string | undefined, to: string | undefined): { from?: number; to?: number } {
  const f = from ? Date.parse(from) : undefined;
  const t = to ? Date.parse(to) : undefined;
  if (f !== undefined && t !== undefined && f > t) {
    throw new GerbangError('request.invalid-parameter', [{ key: 'request.invalid-parameter', severity: 'error', path: 'from', params: { reason: 'from is after to' } }]);
  }
  return { ...(f !== undefined ? { from: f } : {}), ...(t !== undefined ? { to: t } : {}) };
}

// Paging beyond a million records is not browsing; the bound keeps the number a count Redis takes.
export const MAX_OFFSET = 1_000_000;
