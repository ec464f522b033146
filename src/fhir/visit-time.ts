import type { Posyandu, Puskesmas, TimeZone } from '../config/types.js';
import { timeZoneOffsets } from '../records/time.js';
import { fhirCommon } from './terminology.js';

// When a posyandu visit happened, in the form SATUSEHAT takes: every dateTime a full date-time
// in UTC with +00:00 (rules 10173, 10295), also for records that only know the day. The choices
// (how long a visit is taken to last, the time of day of a date-only record) are data in
// mappings/fhir-common.json ("visit", "timeZones"), which says why.

/** What turning a record's date into a date-time needs: the posyandu's offset and the time Gerbang received it. */
export interface Clock {
  /** UTC offset of the posyandu's time zone, e.g. +08:00 */
  offset: string;
  /** no mapped time is later than this (a date-only record is never placed in the future) */
  now: Date;
}

/** The posyandu's zone: the registry's word for it, else the zone of its province (village, else regency code). */
export function timeZoneOf(posyandu: Posyandu, puskesmas: Puskesmas): TimeZone {
  const zones = fhirCommon().timeZones;
  if (posyandu.timeZone) return posyandu.timeZone;
  if (puskesmas.timeZone) return puskesmas.timeZone;
  const province = (posyandu.village ?? puskesmas.regency).slice(0, 2);
  return zones.byProvince[province] ?? zones.fallback;
}

export function clockOf(posyandu: Posyandu, puskesmas: Puskesmas, now: Date): Clock {
  return { offset: timeZoneOffsets[timeZoneOf(posyandu, puskesmas)], now };
}

/**
 * A record's date or date-time as a FHIR dateTime, for kind mappers (e.g. ANC HPHT and HPL
 * `valueDateTime`, rule 10429). A date-time keeps its instant. A bare date (YYYY-MM-DD) is taken
 * at the configured local time of day in the posyandu's zone; a date up to today is never placed
 * after `now` (sent the same morning), a later one is an expected date (HPL) and keeps that time.
 */
export function fhirDateTime(value: string, clock: Clock): string {
  if (value.length > 10) return utc(new Date(value));
  return localTimeOf(value, clock, value <= localToday(clock));
}

/** The record's own times (occurredAt, the visit): what happened is never after Gerbang received it. */
function happenedAt(value: string, clock: Clock): string {
  return value.length > 10 ? utc(new Date(value)) : localTimeOf(value, clock, true);
}

function localTimeOf(date: string, clock: Clock, notAfterNow: boolean): string {
  const local = new Date(`${date}T${fhirCommon().visit.dateOnlyLocalTime}${clock.offset}`);
  return utc(notAfterNow && local.getTime() > clock.now.getTime() ? clock.now : local);
}

/** Today's date at the posyandu, YYYY-MM-DD. */
function localToday(clock: Clock): string {
  const [, sign, hh, mm] = /^([+-])(\d{2}):(\d{2})$/.exec(clock.offset) ?? ['', '+', '00', '00'];
  const minutes = (sign === '-' ? -1 : 1) * (Number(hh) * 60 + Number(mm));
  return new Date(clock.now.getTime() + minutes * 60_000).toISOString().slice(0, 10);
}

export interface VisitPeriod {
  start: string;
  end: string;
}

/**
 * The visit's period: the record's own (`visit`), else ending at the record's time and beginning
 * the configured minutes before it, so that end is later than start (rule 10121) and every
 * result measured at the record's time lies inside it.
 */
export function visitPeriod(record: { occurredAt: string; visit?: { start: string; end: string } }, clock: Clock): VisitPeriod {
  if (record.visit) return { start: happenedAt(record.visit.start, clock), end: happenedAt(record.visit.end, clock) };
  const end = happenedAt(record.occurredAt, clock);
  return { start: utc(new Date(Date.parse(end) - fhirCommon().visit.minutesBeforeRecordTime * 60_000)), end };
}

/**
 * When the record's results were taken: its occurredAt; for a date-only record with a visit
 * period, the end of that visit (the day alone does not say when within it).
 */
export function recordTime(record: { occurredAt: string; visit?: { start: string; end: string } }, clock: Clock): string {
  if (record.occurredAt.length === 10 && record.visit) return happenedAt(record.visit.end, clock);
  return happenedAt(record.occurredAt, clock);
}

/** UTC with +00:00 and whole seconds (flooring never moves a time past `now`). */
function utc(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, '+00:00');
}
