import { maskDigits } from './logger.js';

// The one way an answer hides who a record is about from a key that may not see identity (every
// role but admin): upstream words (lastError, the upstream's OperationOutcome), adapter provenance,
// failure reasons. Upstreams quote the patient as they like, so a NIK is caught written in groups
// (3201 0155-0323.0004) and a name in any case, with any spacing, and word by word
// ("family name AMINAH").

export interface People {
  names: string[];
  niks: string[];
}

const MASK = '***';
const NIK_MASK = '****************';
// Name parts shorter than this are initials or particles (bin, Hj): masking them alone would blot
// out ordinary words and hide nothing.
const MIN_PART = 3;

/** The names and NIKs a stored record carries (subject, mother, performer), read defensively. */
export function peopleOf(record: unknown): People {
  const r = record as { subject?: { name?: unknown; nik?: unknown; mother?: { name?: unknown; nik?: unknown } }; performer?: { name?: unknown; nik?: unknown } } | null;
  const candidates = [r?.subject, r?.subject?.mother, r?.performer];
  const names: string[] = [];
  const niks: string[] = [];
  for (const c of candidates) {
    if (typeof c?.name === 'string' && c.name.trim().length > 0) names.push(c.name);
    if (typeof c?.nik === 'string' && /\d/.test(c.nik)) niks.push(c.nik);
  }
  return { names, niks };
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Patterns for one person's NIK: its digits with anything but letters and digits (up to 3 characters) between them. */
function nikPattern(nik: string): RegExp | undefined {
  const digits = nik.replace(/\D/g, '');
  if (digits.length < 8) return undefined;
  return new RegExp(`(?<!\\d)${digits.split('').join('[^\\p{L}\\d]{0,3}')}(?!\\d)`, 'gu');
}

/** The whole name with any spacing or punctuation between its parts, then each longer part alone; any case, whole words only. */
function namePatterns(name: string): RegExp[] {
  const parts = name.split(/[^\p{L}\p{M}'’]+/u).filter((p) => p.length > 0);
  if (parts.length === 0) return [];
  const word = (body: string) => new RegExp(`(?<![\\p{L}\\p{M}])${body}(?![\\p{L}\\p{M}])`, 'giu');
  const whole = word(parts.map(escape).join('[^\\p{L}\\p{M}]{1,3}'));
  return [whole, ...parts.filter((p) => p.length >= MIN_PART).map((p) => word(escape(p)))];
}

/** Text with the people's NIKs and names, and anything NIK-shaped, masked. */
export function maskIdentityText(text: string, people: People): string {
  let out = text;
  for (const nik of people.niks) {
    const p = nikPattern(nik);
    if (p) out = out.replace(p, NIK_MASK);
  }
  out = maskDigits(out);
  // longer names first, so a mother's full name is masked before the child's shared family name
  const patterns = [...people.names].sort((a, b) => b.length - a.length).flatMap(namePatterns);
  for (const p of patterns) out = out.replace(p, MASK);
  return out;
}

/** Any JSON value with every string in it (keys kept) masked as maskIdentityText does. */
export function maskIdentity<T>(value: T, people: People): T {
  if (typeof value === 'string') return maskIdentityText(value, people) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => maskIdentity(v, people)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskIdentity(v, people)])) as T;
  }
  if (typeof value === 'number' && Number.isInteger(value) && String(value).length >= 16) return NIK_MASK as T;
  return value;
}
