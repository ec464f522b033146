import type { Condition } from './conditions.js';
import type { Zone } from './values.js';

// The adapter file format (mappings/adapters/<name>.json, docs/adapters.md): what an adapter
// declares. adapter-file.ts checks a file against it; adapter.ts runs it on an app's row.

export type As = 'string' | 'number' | 'integer' | 'boolean' | 'date' | 'datetime' | 'nik' | 'systolic' | 'diastolic' | 'year-month' | 'gravida' | 'para' | 'abortus';

// An app states its zone as Indonesians say it or as its framework's configuration does.
export const timeZoneNames = {
  WIB: 'WIB', WITA: 'WITA', WIT: 'WIT', UTC: 'UTC',
  'Asia/Jakarta': 'WIB', 'Asia/Pontianak': 'WIB', 'Asia/Makassar': 'WITA', 'Asia/Jayapura': 'WIT',
} as const satisfies Record<string, Zone>;
export type TimeZoneName = keyof typeof timeZoneNames;

export interface FieldSpec {
  path?: string | string[];
  const?: unknown;
  context?: 'posyandu';
  template?: string;
  as?: As;
  map?: string | Record<string, unknown>;
  unit?: 'g' | 'mm' | 'g/L';
  missing?: unknown[];
  /** a value not in `map`: refused (default), kept as it is, or taken as not recorded */
  unmapped?: 'refuse' | 'keep' | 'missing';
  optional?: boolean;
  derive?: 'sex-from-nik' | 'birth-date-from-nik' | 'position-from-age';
  /** the zone this column's dates and times are written in, when not the adapter's */
  timeZone?: TimeZoneName;
  /** the first case whose `when` holds gives the value; none: the field is absent */
  cases?: Array<FieldSpec & { when?: Condition }>;
}

export interface RecordSpec {
  kind: string;
  /**
   * one record per element of the list at `path`, the element named `as` in this entry's paths;
   * `jsonText`: the app may store the list as JSON text (a `json_encode`d column), read as the list it holds
   */
  each?: { path: string; as: string; jsonText?: boolean };
  /** paths whose value the app keeps as JSON text, read as the object or list it holds */
  jsonText?: string[];
  when?: Condition;
  relations?: Record<string, string[]>;
  fields: Record<string, FieldSpec>;
}

export interface Adapter {
  name: string;
  app: string;
  description?: string;
  /** the zone the app's server writes dates and times in (Laravel's `app.timezone`) */
  timeZone?: TimeZoneName;
  /** a name for the first place present of several, e.g. {"pasien": ["kunjungan.pasien", "pasien"]} */
  relations?: Record<string, string[]>;
  records: RecordSpec[];
  valueMaps?: Record<string, Record<string, unknown>>;
}
