import type { Coding } from '@medplum/fhirtypes';
import { checkCoding } from '../tables/read-table.js';
import { defineMapping } from '../tables/registry.js';

// Apps name vaccines in their own ways ("Pentabio", "DPT/HB-Hib (2)", "POLIO III", "Imunisasi 9 bln -
// Campak Rubella"). This reads such a name as an antigen and a dose, by the rules and aliases in
// mappings/vaccines.json, so that a new spelling of a known vaccine needs no new code.

export interface Antigen {
  key: string;
  name: { id: string; en: string };
  aliases: string[];
  route: string;
  maxDose: number;
  boosterDose?: number;
  singleDose?: boolean;
  reason?: string;
  codes: Coding[];
  brands?: Record<string, Coding[]>;
  /** the volume of one dose of the programme's product (none for oral drops) */
  doseQuantity?: { value: number; unit: string };
  /** the ICD-9-CM code of the vaccination Procedure, as the official Imunisasi Postman collection codes it */
  procedure: Coding;
}

interface VaccineTable {
  routes: Record<string, Coding>;
  notVaccines: { aliases: string[] };
  exact: Record<string, { antigen: string; dose: number | null } | string>;
  antigens: Antigen[];
  boosterWords: string[];
  numberWords: Record<string, number>;
  leadingWords: string[];
  ageDoses: Record<string, Record<string, number> | string>;
  volumeUnits: string[];
  firstDoseUnderMonths: Record<string, number | string | boolean>;
}

export const vaccineTable = defineMapping<VaccineTable>('vaccines.json', (d, fail) => {
  const keys = new Set<string>();
  (d.antigens ?? []).forEach((a, i) => {
    if (!a.key || keys.has(a.key)) fail(`antigens[${i}].key`, 'must be present and unique');
    keys.add(a.key);
    if (!d.routes?.[a.route]) fail(`antigens[${i}].route`, `no route "${a.route}"`);
    a.codes.forEach((c, j) => checkCoding(c, `antigens[${i}].codes[${j}]`, fail));
    checkCoding(a.procedure, `antigens[${i}].procedure`, fail);
    for (const [brand, codes] of Object.entries(a.brands ?? {})) codes.forEach((c, j) => checkCoding(c, `antigens[${i}].brands.${brand}[${j}]`, fail));
    if (a.doseQuantity && !(a.doseQuantity.value > 0 && a.doseQuantity.unit)) fail(`antigens[${i}].doseQuantity`, 'needs a positive value and a unit');
    a.aliases.forEach((re, j) => {
      try {
        new RegExp(re);
      } catch {
        fail(`antigens[${i}].aliases[${j}]`, 'is not a regular expression');
      }
    });
  });
  for (const [key, v] of Object.entries(d.firstDoseUnderMonths ?? {})) {
    if (typeof v === 'number' && !keys.has(key)) fail(`firstDoseUnderMonths.${key}`, 'unknown antigen');
  }
  for (const [name, v] of Object.entries(d.exact ?? {})) {
    if (typeof v === 'object' && !keys.has(v.antigen)) fail(`exact.${name}`, `unknown antigen "${v.antigen}"`);
  }
});

// Compiled on first use from the loaded table (the table is read at start-up, not at import).
let patterns: { compiled: { antigen: VaccineTable['antigens'][number]; patterns: RegExp[] }[]; notVaccine: RegExp[]; volume: RegExp } | undefined;
function vaccinePatterns(): NonNullable<typeof patterns> {
  if (patterns) return patterns;
  const table = vaccineTable();
  patterns = {
    compiled: table.antigens.map((a) => ({ antigen: a, patterns: a.aliases.map((re) => new RegExp(re)) })),
    notVaccine: table.notVaccines.aliases.map((re) => new RegExp(re)),
    // "0,5 ml", "0.05 mL", "10 Lf": a number that measures the product is not a dose.
    volume: new RegExp(`\\d+(?:[.,]\\d+)?\\s*(?:${table.volumeUnits.join('|')})(?![a-z])`, 'g'),
  };
  return patterns;
}

const roman: Record<string, number> = { i: 1, ii: 2, iii: 3, iv: 4, v: 5 };
// The KFA product form "Vaksin DTP - HB - Hib 0,5 mL (PENTABIO, 1)": the number is the presentation.
const kfaPresentation = /\(([^(),]*[a-z][^(),]*),\s*\d+\s*\)/g;

export type VaccineName =
  | { ok: true; antigen: Antigen; dose: number | null; booster: boolean }
  | { ok: false; reason: 'not-a-vaccine' | 'unknown' | 'several' };

function antigenByKey(key: string): Antigen | undefined {
  return vaccineTable().antigens.find((a) => a.key === key);
}

export function normaliseVaccineName(text: string): VaccineName {
  // "BCG, Polio 1": an app's list of the day's doses. One record is one dose; reading the first
  // name alone would drop the others without a word.
  const parts = text.split(/[,;+&]|\s+dan\s+/i).map((p) => p.trim()).filter(Boolean);
  if (parts.length > 1 && parts.every((p) => normaliseOne(p).ok)) return { ok: false, reason: 'several' };
  return normaliseOne(text);
}

function normaliseOne(text: string): VaccineName {
  const exact = vaccineTable().exact[text.trim()];
  if (exact && typeof exact === 'object') {
    const antigen = antigenByKey(exact.antigen);
    if (antigen) return { ok: true, antigen, dose: exact.dose, booster: false };
  }
  let s = text.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
  s = s.replace(vaccinePatterns().volume, ' ').replace(kfaPresentation, (_, brand: string) => `(${brand})`);
  // "Imunisasi 9 bln - …": the age names the dose when the rest does not.
  let ageMonths: number | undefined;
  s = s.replace(/imunisasi\s*(\d+)\s*(bln|bulan)\s*-?/, (_, m: string) => {
    ageMonths = Number(m);
    return ' ';
  });
  // Parentheses hold either part of the name ("(IPV 2)", "(MR)", "(2)") or notes ("(<24 Jam)",
  // "(Khusus DIY)"): keep what names a vaccine or a dose, drop the rest.
  s = s.replace(/\(([^)]*)\)/g, (_, inner: string) => (namesVaccineOrDose(inner) ? ` ${inner} ` : ' '));
  const tokens = s
    .split(/[^a-z0-9]+/)
    .flatMap((t) => t.split(/(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])/))
    .filter(Boolean);
  while (tokens.length > 0 && vaccineTable().leadingWords.includes(tokens[0] ?? '')) tokens.shift();
  const booster = tokens.some((t) => vaccineTable().boosterWords.includes(t));
  const letters = tokens.filter((t) => /^[a-z]+$/.test(t) && !vaccineTable().boosterWords.includes(t)).join('');
  if (vaccinePatterns().notVaccine.some((re) => re.test(letters))) return { ok: false, reason: 'not-a-vaccine' };
  const match = vaccinePatterns().compiled.find((c) => c.patterns.some((re) => re.test(letters)));
  if (!match) return { ok: false, reason: 'unknown' };
  const antigen = match.antigen;
  const dose = firstNumber(tokens.slice(1)) ?? firstNumber(tokens.slice(0, 1)) ?? impliedDose(antigen, booster, ageMonths);
  return { ok: true, antigen, dose, booster };
}

function namesVaccineOrDose(inner: string): boolean {
  const letters = inner.toLowerCase().replace(/[^a-z]/g, '');
  if (/^\s*\d+\s*$/.test(inner) || roman[letters] !== undefined || vaccineTable().numberWords[letters] !== undefined) return true;
  return vaccinePatterns().compiled.some((c) => c.patterns.some((re) => re.test(letters)));
}

/** The first number among the tokens: digits, a Roman numeral (not as the first word) or a number word. */
function firstNumber(tokens: string[]): number | undefined {
  for (const t of tokens) {
    if (/^\d+$/.test(t)) return Number(t);
    const word = vaccineTable().numberWords[t] ?? roman[t];
    if (word !== undefined) return word;
  }
  return undefined;
}

function impliedDose(antigen: Antigen, booster: boolean, ageMonths: number | undefined): number | null {
  if (booster && antigen.boosterDose !== undefined) return antigen.boosterDose;
  const byAge = vaccineTable().ageDoses[antigen.key];
  if (ageMonths !== undefined && typeof byAge === 'object' && byAge[String(ageMonths)] !== undefined) return byAge[String(ageMonths)] ?? null;
  return antigen.singleDose ? 1 : null;
}

/**
 * The codes for vaccineCode in the order the official Imunisasi Postman collection gives them: the
 * KFA product when the name names a brand, the KFA vaccine groups, then CVX (the brand's own CVX
 * code where it has one).
 */
export function vaccineCodings(antigen: Antigen, text: string): Coding[] {
  const lower = text.toLowerCase();
  const brand = Object.entries(antigen.brands ?? {}).find(([name]) => lower.includes(name))?.[1] ?? [];
  const isCvx = (c: Coding) => c.system?.endsWith('/cvx') === true;
  const cvx = brand.some(isCvx) ? brand.filter(isCvx) : antigen.codes.filter(isCvx);
  return [...brand.filter((c) => !isCvx(c)), ...antigen.codes.filter((c) => !isCvx(c)), ...cvx].map(plainCoding);
}

/** A Coding as FHIR has it: the mapping files' notes (source, verified) stay behind. */
export function plainCoding(c: Coding): Coding {
  return { ...(c.system ? { system: c.system } : {}), ...(c.code ? { code: c.code } : {}), ...(c.display ? { display: c.display } : {}) };
}

/** The vaccine of an immunisation record, given as text or as {antigen, dose}. */
export function readVaccine(record: { vaccine: string | { antigen: string; dose?: number } }): VaccineName {
  const v = record.vaccine;
  if (typeof v === 'string') return normaliseVaccineName(v);
  const antigen = antigenByKey(v.antigen);
  if (!antigen) return { ok: false, reason: 'unknown' };
  return { ok: true, antigen, dose: v.dose ?? (antigen.singleDose ? 1 : null), booster: false };
}
