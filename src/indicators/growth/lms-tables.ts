import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MappingDataError } from '../../tables/mapping-data-error.js';
import { defineTable } from '../../tables/registry.js';
import type { Lms } from './lms.js';

// The WHO LMS tables in mappings/who-growth/, read and checked once, at start-up. A malformed file
// stops the caller with the file and line, instead of turning into wrong z-scores later.

export type { Lms } from './lms.js';
export type Sex = 'male' | 'female';
export type TableName = 'wfa' | 'lhfa' | 'wfl' | 'wfh' | 'bmi' | 'hcfa' | 'muac';
export type Indicator = 'wfa' | 'lfa' | 'hfa' | 'wfl' | 'wfh' | 'bmifa' | 'hcfa' | 'muacfa';

type KeyColumn = 'age' | 'length' | 'height';

/** One WHO table for one sex, rows by integer key: age in days, or length/height in tenths of a cm. */
export interface LmsTable {
  file: string;
  keyColumn: KeyColumn;
  first: number;
  last: number;
  /** rows[key − first] */
  rows: Lms[];
}

export interface IndicatorSpec {
  table: TableName;
  method: 'restricted' | 'lms';
  flag: { below: number; above: number };
  weightBased: boolean;
}

interface TableSpec {
  file: string;
  key: KeyColumn;
  covers: [number, number];
  unit: string;
}

interface IndicatorsFile {
  tables: Record<TableName, TableSpec>;
  indicators: Record<Indicator, IndicatorSpec>;
}

export interface GrowthTables {
  indicators: Record<Indicator, IndicatorSpec>;
  tables: Record<TableName, Record<Sex, LmsTable>>;
}

const TABLE_NAMES: TableName[] = ['wfa', 'lhfa', 'wfl', 'wfh', 'bmi', 'hcfa', 'muac'];
const INDICATORS: Indicator[] = ['wfa', 'lfa', 'hfa', 'wfl', 'wfh', 'bmifa', 'hcfa', 'muacfa'];

/** The WHO tables and how each indicator uses them, read and validated at start-up (src/tables/registry.ts). */
export const growthTables = defineTable<GrowthTables>('who-growth/indicators.json', (dirs) => {
  const whoDir = join(dirs.mappings, 'who-growth');
  const spec = readSpec(join(whoDir, 'indicators.json'));
  const tables = Object.fromEntries(TABLE_NAMES.map((name) => [name, readTable(join(whoDir, spec.tables[name].file), spec.tables[name])]));
  return { indicators: spec.indicators, tables: tables as GrowthTables['tables'] };
});

/** The row at an integer key (age in days, or tenths of a cm); undefined outside the table. */
export function rowAt(table: LmsTable, key: number): Lms | undefined {
  return Number.isInteger(key) ? table.rows[key - table.first] : undefined;
}

/**
 * L, M and S at a length or height in cm. Between two 0.1 cm rows each is interpolated linearly,
 * as anthro does (R/z-score-weight-for-lenhei.R); on a row, that row. Undefined when either
 * neighbouring row is missing, i.e. outside the table.
 */
export function lmsAtLength(table: LmsTable, cm: number): Lms | undefined {
  const tenths = cm * 10;
  const onRow = Math.round(tenths);
  // 65.3 × 10 is 652.999…: a value on a row must not be read as "just below it".
  if (Math.abs(tenths - onRow) < 1e-9) return rowAt(table, onRow);
  const low = Math.floor(tenths);
  const a = rowAt(table, low);
  const b = rowAt(table, low + 1);
  if (!a || !b) return undefined;
  const f = tenths - low;
  return { l: a.l + f * (b.l - a.l), m: a.m + f * (b.m - a.m), s: a.s + f * (b.s - a.s) };
}

/** The first and last key of a table in its own unit (days, or cm). */
export function tableRange(table: LmsTable): [number, number] {
  return table.keyColumn === 'age' ? [table.first, table.last] : [table.first / 10, table.last / 10];
}

function readSpec(file: string): IndicatorsFile {
  let data: IndicatorsFile;
  try {
    data = JSON.parse(readFileSync(file, 'utf8')) as IndicatorsFile;
  } catch (err) {
    throw new MappingDataError(`${file}: cannot be read as JSON (${(err as Error).message})`);
  }
  const fail = (at: string, problem: string): never => {
    throw new MappingDataError(`${file}: ${at}: ${problem}`);
  };
  for (const name of TABLE_NAMES) {
    const t = data.tables?.[name];
    if (!t || typeof t.file !== 'string' || !/^[\w.-]+$/.test(t.file)) fail(`tables.${name}.file`, 'a file name in mappings/who-growth/ is required');
    if (!['age', 'length', 'height'].includes(t.key)) fail(`tables.${name}.key`, 'must be "age", "length" or "height"');
    if (!Array.isArray(t.covers) || t.covers.length !== 2 || !(t.covers[0] <= t.covers[1])) fail(`tables.${name}.covers`, 'must be [first, last]');
  }
  for (const name of INDICATORS) {
    const i = data.indicators?.[name];
    if (!i || !TABLE_NAMES.includes(i.table)) fail(`indicators.${name}.table`, `must be one of ${TABLE_NAMES.join(', ')}`);
    if (i.method !== 'restricted' && i.method !== 'lms') fail(`indicators.${name}.method`, 'must be "restricted" or "lms"');
    if (!(i.flag?.below < 0 && i.flag.above > 0)) fail(`indicators.${name}.flag`, 'needs below < 0 < above');
    if (typeof i.weightBased !== 'boolean') fail(`indicators.${name}.weightBased`, 'must be true or false');
  }
  return data;
}

/** One WHO file: tab-separated, a header row, all boys' rows then all girls' rows, no gaps. */
export function readTable(file: string, spec: Pick<TableSpec, 'key' | 'covers'>): Record<Sex, LmsTable> {
  const fail = (line: number, problem: string): never => {
    throw new MappingDataError(`${file}: line ${line}: ${problem}`);
  };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new MappingDataError(`${file}: cannot be read (${(err as Error).message})`);
  }
  // WHO's files use CRLF and end with a newline; only that final empty line is allowed.
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();

  const header = (lines[0] ?? '').split('\t');
  const column = (name: string): number => {
    const i = header.indexOf(name);
    return i >= 0 ? i : fail(1, `no "${name}" column (header: ${header.join(', ')})`);
  };
  const cols = { sex: column('sex'), key: column(spec.key), l: column('l'), m: column('m'), s: column('s') };
  const byAge = spec.key === 'age';
  const toKey = (v: number) => (byAge ? v : Math.round(v * 10));
  const step = byAge ? 'day' : '0.1 cm';

  const out: Partial<Record<Sex, LmsTable>> = {};
  let current: LmsTable | undefined;
  for (let i = 1; i < lines.length; i++) {
    const lineNo = i + 1;
    const cells = (lines[i] as string).split('\t');
    if (cells.length !== header.length) fail(lineNo, `expected ${header.length} tab-separated cells, found ${cells.length}`);
    const num = (c: number, what: string): number => {
      const cell = cells[c] ?? '';
      const v = Number(cell);
      return cell.trim() !== '' && Number.isFinite(v) ? v : fail(lineNo, `${what} "${cell}" is not a number`);
    };
    const sexCode = num(cols.sex, 'sex');
    if (sexCode !== 1 && sexCode !== 2) fail(lineNo, `sex must be 1 or 2, found ${sexCode}`);
    const sex: Sex = sexCode === 1 ? 'male' : 'female';
    const rawKey = num(cols.key, spec.key);
    const key = toKey(rawKey);
    const onStep = byAge ? Number.isInteger(rawKey) : Math.abs(rawKey * 10 - key) < 1e-6;
    if (!onStep) fail(lineNo, `${spec.key} ${rawKey} is not on a whole ${step}`);
    const row = { l: num(cols.l, 'l'), m: num(cols.m, 'm'), s: num(cols.s, 's') };
    if (!(row.m > 0) || !(row.s > 0)) fail(lineNo, 'm and s must be positive');

    if (current && out[sex] === current) {
      // One row per step, in order, so that rows[key − first] is the row for key.
      if (key !== current.last + 1) fail(lineNo, `${spec.key} ${rawKey} is not one ${step} after the previous row`);
      current.rows.push(row);
      current.last = key;
    } else {
      if (out[sex]) fail(lineNo, `the ${sex} rows are not all together`);
      if (sex === 'male' && out.female) fail(lineNo, 'male rows must come before female rows');
      current = { file, keyColumn: spec.key, first: key, last: key, rows: [row] };
      out[sex] = current;
    }
  }
  for (const sex of ['male', 'female'] as const) {
    const t = out[sex] ?? fail(lines.length, `no ${sex} rows`);
    const [from, to] = spec.covers.map(toKey) as [number, number];
    if (t.first !== from || t.last < to) {
      const [first, last] = tableRange(t);
      fail(lines.length, `the ${sex} rows run from ${first} to ${last}; Gerbang needs ${spec.covers[0]} to ${spec.covers[1]}`);
    }
  }
  return out as Record<Sex, LmsTable>;
}
