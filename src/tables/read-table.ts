import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Coding } from '@medplum/fhirtypes';
import { mappingsDir } from '../config/paths.js';
import { MappingDataError } from './mapping-data-error.js';

// Code tables are read once, at start-up, and checked by their reader so that a broken file stops
// the gateway with its name and the place that is wrong, instead of producing bad resources later.

export type Fail = (at: string, problem: string) => never;

export function readMapping<T>(name: string, check: (data: T, fail: Fail) => void, dir: string = mappingsDir): T {
  const file = join(dir, name);
  let data: T;
  try {
    data = JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new MappingDataError(`${file}: cannot be read as JSON (${(err as Error).message})`);
  }
  check(data, (at, problem) => {
    throw new MappingDataError(`${file}: ${at}: ${problem}`);
  });
  return data;
}

export function checkCoding(c: unknown, at: string, fail: Fail): void {
  const coding = c as Coding | undefined;
  if (!coding || typeof coding.system !== 'string' || !/^(https?:|urn:)/.test(coding.system)) fail(`${at}.system`, 'must be a URI');
  if (typeof coding.code !== 'string' || coding.code.length === 0) fail(`${at}.code`, 'must be a non-empty string');
}

/** A loaded table made read-only all the way down: code that uses it cannot change it for the next record. */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    // A frozen Map still answers set(); its type (ReadonlyMap) keeps it, and its entries are frozen.
    for (const v of value instanceof Map ? value.values() : Object.values(value)) deepFreeze(v);
  }
  return value;
}
