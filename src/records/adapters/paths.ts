// Where a value sits in an app's row. A path is dotted steps; a step may pick an array element by
// its index (`visits[0]`) or by a property (`parents[relation=ibu]`, compared without regard to
// case). A relation name (the adapter's `relations`) stands for the first of several places that
// is present, so that every field of a person is read from the same object wherever the app
// nests it (`pasien` in one row, `kunjungan.pasien` in another), or in whichever shape (`x[0]`
// of a one-element list, or `x` itself).

export type Relations = Readonly<Record<string, readonly string[]>>;

type Selector = { index: number } | { key: string; value: string };
interface Step {
  name: string;
  selectors: Selector[];
}

const parsed = new Map<string, Step[] | undefined>();

/** The steps of a path, or undefined when it cannot be one (checked when an adapter is loaded). */
export function parsePath(path: string): Step[] | undefined {
  if (parsed.has(path)) return parsed.get(path);
  const steps: Step[] = [];
  // A selector's value may hold dots or spaces ("ibu kandung"), so steps are split outside brackets.
  const re = /([^.[\]]+)((?:\[[^\]]*\])*)(?:\.|$)/y;
  let ok = path.length > 0;
  while (ok && re.lastIndex < path.length) {
    const m = re.exec(path);
    if (!m) {
      ok = false;
      break;
    }
    const selectors: Selector[] = [];
    for (const [, inner = ''] of (m[2] ?? '').matchAll(/\[([^\]]*)\]/g)) {
      const eq = inner.indexOf('=');
      if (/^\d+$/.test(inner)) selectors.push({ index: Number(inner) });
      else if (eq > 0 && eq < inner.length - 1) selectors.push({ key: inner.slice(0, eq).trim(), value: inner.slice(eq + 1).trim().toLowerCase() });
      else ok = false;
    }
    steps.push({ name: (m[1] ?? '').trim(), selectors });
    if (m[0].endsWith('.') && re.lastIndex === path.length) ok = false;
  }
  const out = ok ? steps : undefined;
  parsed.set(path, out);
  return out;
}

function indexOf(node: unknown[], s: Selector): number {
  if ('index' in s) return s.index;
  return node.findIndex((el) => {
    const v = s.key.split('.').reduce<unknown>((n, k) => (n !== null && typeof n === 'object' ? (n as Record<string, unknown>)[k] : undefined), el);
    return (typeof v === 'string' || typeof v === 'number') && String(v).trim().toLowerCase() === s.value;
  });
}

function select(node: unknown, s: Selector): unknown {
  return Array.isArray(node) ? node[indexOf(node, s)] : undefined;
}

function walk(node: unknown, steps: Step[]): unknown {
  let cur = node;
  for (const step of steps) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[step.name];
    for (const s of step.selectors) cur = select(cur, s);
  }
  return cur;
}

// An empty list is no place of a relation: it is how PostgREST and Eloquent embed a related row
// that is not there (`"kunjungan_balita": []`), so the relation's next place is tried.
const present = (v: unknown) => v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0);

/** The value at a path of a row; a path's first step may name a relation. */
export function at(row: unknown, path: string, relations: Relations = {}): unknown {
  const steps = parsePath(path);
  if (!steps) return undefined;
  const [first, ...rest] = steps;
  const places = first && first.selectors.length === 0 ? relations[first.name] : undefined;
  if (!places) return walk(row, steps);
  const base = places.map((p) => at(row, p)).find(present);
  return base === undefined ? undefined : walk(base, rest);
}

/** Where a relation was found in this row (for provenance), or the path itself. */
export function placeOf(row: unknown, path: string, relations: Relations = {}): string {
  const dot = path.search(/[.[]/);
  const first = dot < 0 ? path : path.slice(0, dot);
  const places = relations[first];
  if (!places) return path;
  const found = places.find((p) => present(at(row, p)));
  return found === undefined ? path : `${found}${path.slice(first.length)}`;
}

/** The places a path may name in a row: one per place of its relation (for a problem's `source`). */
export function placesOf(path: string, relations: Relations = {}): string[] {
  const dot = path.search(/[.[]/);
  const first = dot < 0 ? path : path.slice(0, dot);
  const places = relations[first];
  return places ? places.map((p) => `${p}${path.slice(first.length)}`) : [path];
}

/**
 * A copy of the row with the value at a plain path (no relation) replaced; the row itself is left
 * as the app sent it. A path that leads nowhere leaves the row as it is.
 */
export function replaceAt(row: unknown, path: string, value: unknown): unknown {
  const steps = parsePath(path);
  if (!steps) return row;
  const keys = steps.flatMap((s): Array<string | Selector> => [s.name, ...s.selectors]);
  const put = (node: unknown, i: number): unknown => {
    const k = keys[i];
    if (k === undefined) return value;
    if (typeof k === 'string') {
      if (node === null || typeof node !== 'object' || Array.isArray(node)) return node;
      return { ...node, [k]: put((node as Record<string, unknown>)[k], i + 1) };
    }
    if (!Array.isArray(node)) return node;
    const at = indexOf(node, k);
    if (at < 0 || at >= node.length) return node;
    const copy = [...node];
    copy[at] = put(node[at], i + 1);
    return copy;
  };
  return put(row, 0);
}
