import { defineMapping } from '../tables/registry.js';

// NIK layout (Dukcapil's): digits 1-6 region (province, regency, district), 7-12 birth date DDMMYY
// with 40 added to the day for women, 13-16 a serial from 0001.

export type NikProblem = 'not-16-digits' | 'province' | 'region' | 'birth-date' | 'serial';

export interface ParsedNik {
  province: string;
  regency: string;
  district: string;
  sex: 'male' | 'female';
  day: number;
  month: number;
  /** two-digit year: the century is not in the NIK */
  yy: number;
  serial: number;
}

const provinceNames = defineMapping<{ provinces: Record<string, string> }>('provinces.json', (d, fail) => {
  if (!d.provinces || typeof d.provinces !== 'object') fail('provinces', 'is required');
  for (const [code, name] of Object.entries(d.provinces)) {
    if (!/^\d{2}$/.test(code)) fail(`provinces.${code}`, 'a province code is two digits');
    if (typeof name !== 'string' || name.trim() === '') fail(`provinces.${code}`, 'must be the province name');
  }
});

const daysInMonth = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The province a region code (NIK digits 1-2, or a regency code) belongs to. */
export function provinceName(regionCode: string): string | undefined {
  return provinceNames().provinces[regionCode.slice(0, 2)];
}

export function parseNik(nik: string): { ok: true; nik: ParsedNik } | { ok: false; problem: NikProblem } {
  if (!/^[0-9]{16}$/.test(nik)) return { ok: false, problem: 'not-16-digits' };
  const province = nik.slice(0, 2);
  const regency = nik.slice(2, 4);
  const district = nik.slice(4, 6);
  if (!Object.hasOwn(provinceNames().provinces, province)) return { ok: false, problem: 'province' };
  if (regency === '00' || district === '00') return { ok: false, problem: 'region' };
  const rawDay = Number(nik.slice(6, 8));
  const month = Number(nik.slice(8, 10));
  const yy = Number(nik.slice(10, 12));
  const sex = rawDay > 40 ? 'female' : 'male';
  const day = rawDay > 40 ? rawDay - 40 : rawDay;
  // Leap years cannot be told apart without the century, so 29 February is always allowed.
  if (month < 1 || month > 12 || day < 1 || day > (daysInMonth[month - 1] ?? 0)) {
    return { ok: false, problem: 'birth-date' };
  }
  const serial = Number(nik.slice(12, 16));
  if (serial === 0) return { ok: false, problem: 'serial' };
  return { ok: true, nik: { province, regency, district, sex, day, month, yy, serial } };
}

/** Where a well-formed NIK disagrees with the stated birth date or sex (temporary NIKs exist). */
export function nikDisagreements(
  nik: ParsedNik,
  birthDate: string,
  sex: 'male' | 'female',
): Array<'birth-date' | 'sex'> {
  const out: Array<'birth-date' | 'sex'> = [];
  const [y, m, d] = birthDate.split('-').map(Number);
  if (y === undefined || y % 100 !== nik.yy || m !== nik.month || d !== nik.day) out.push('birth-date');
  if (sex !== nik.sex) out.push('sex');
  return out;
}
