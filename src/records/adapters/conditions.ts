import { at, placesOf, type Relations } from './paths.js';
import { isBlank, readNumber } from './values.js';

// A `when` says which rows (or which field case) an entry applies to: every listed path has one of
// the listed values, `"$present"` or `"$absent"`; `anyOf` holds when one of its conditions does,
// `allOf` when all do. When no entry applies, what failed is what a person needs to hear: the
// columns that are missing, or a value the adapter does not read as a record.

export type Condition = Record<string, unknown>;

/** One part of a condition that does not hold in a row. */
export interface Failure {
  /** the app's path (alternatives of an `anyOf` joined by " / ") */
  path: string;
  /** true when the path is absent; false when its value is not one of `allowed` */
  missing: boolean;
  value?: unknown;
  allowed?: unknown[];
}

export interface Evaluation {
  failures: Failure[];
  /** how many parts held: a row that meets none of an entry is another kind of row */
  held: number;
}

const present = (v: unknown) => !isBlank(v);

function valueMatches(wanted: unknown, v: unknown): boolean {
  if (wanted === '$present') return present(v);
  if (wanted === '$absent') return !present(v);
  if (v === null || typeof v === 'object' || wanted === null || typeof wanted === 'object') return wanted === v;
  // A number matches however the app wrote it: 0, "0", "0.00" (a float column cast to text).
  if (typeof wanted === 'number') {
    const n = readNumber(v);
    return n.ok && n.value === wanted;
  }
  return String(wanted).trim().toLowerCase() === String(v).trim().toLowerCase();
}

export function evaluate(cond: Condition | undefined, row: unknown, relations: Relations): Evaluation {
  const out: Evaluation = { failures: [], held: 0 };
  for (const [key, spec] of Object.entries(cond ?? {})) {
    if (key === 'allOf') {
      for (const c of spec as Condition[]) {
        const e = evaluate(c, row, relations);
        out.failures.push(...e.failures);
        out.held += e.held;
      }
    } else if (key === 'anyOf') {
      const alternatives = (spec as Condition[]).map((c) => evaluate(c, row, relations));
      if (alternatives.some((e) => e.failures.length === 0)) out.held += 1;
      else {
        const failures = alternatives.flatMap((e) => e.failures);
        out.failures.push({ path: [...new Set(failures.map((f) => f.path))].join(' / '), missing: failures.every((f) => f.missing) });
        out.held += alternatives.reduce((n, e) => n + e.held, 0);
      }
    } else {
      const wanted = spec as unknown[];
      const v = at(row, key, relations);
      // A relation is named by the places it stands for, which are what the app knows.
      const path = placesOf(key, relations).join(' / ');
      const allowed = wanted.filter((w) => w !== '$present' && w !== '$absent');
      if (wanted.some((w) => valueMatches(w, v))) out.held += 1;
      else out.failures.push({ path, missing: !present(v) && !wanted.includes('$absent'), ...(present(v) ? { value: v } : {}), ...(allowed.length > 0 ? { allowed } : {}) });
    }
  }
  return out;
}

export function holds(cond: Condition | undefined, row: unknown, relations: Relations): boolean {
  return evaluate(cond, row, relations).failures.length === 0;
}

/** The paths a condition reads (checked when an adapter is loaded). */
export function conditionPaths(cond: Condition | undefined): string[] {
  return Object.entries(cond ?? {}).flatMap(([key, spec]) => (key === 'allOf' || key === 'anyOf' ? (spec as Condition[]).flatMap(conditionPaths) : [key]));
}

/**
 * The condition without its parts that read under any of `prefixes`: what can still be judged of
 * a row whose value there cannot be read. An `anyOf` with such an alternative may hold, so it goes.
 */
export function withoutPaths(cond: Condition | undefined, prefixes: readonly string[]): Condition | undefined {
  const under = (path: string) => prefixes.some((p) => path === p || path.startsWith(`${p}.`) || path.startsWith(`${p}[`));
  const strip = (c: Condition): Condition =>
    Object.fromEntries(
      Object.entries(c).flatMap(([key, v]): Array<[string, unknown]> => {
        if (key === 'anyOf' || key === 'allOf') {
          const parts = (v as Condition[]).map(strip).filter((p) => Object.keys(p).length > 0);
          if (key === 'anyOf' && parts.length < (v as Condition[]).length) return [];
          return parts.length > 0 ? [[key, parts]] : [];
        }
        return under(key) ? [] : [[key, v]];
      }),
    );
  return cond && strip(cond);
}
