import type { Config, Scope } from './types.js';

/** Where a record belongs, as the ledger stores it next to the record. */
export interface Place {
  regency: string;
  puskesmas: string;
  posyandu: string;
}

/**
 * What a key may see or write. A key without a scope covers everything (a province or national
 * key); otherwise a place is covered when its posyandu, its puskesmas or its regency is listed.
 */
export class ScopeCheck {
  private readonly posyandu: Set<string>;
  private readonly puskesmas: Set<string>;
  private readonly regency: Set<string>;
  readonly unlimited: boolean;

  constructor(
    readonly scope: Scope | undefined,
    private readonly facilities: Config['facilities'],
  ) {
    this.posyandu = new Set(scope?.posyandu ?? []);
    this.puskesmas = new Set(scope?.puskesmas ?? []);
    this.regency = new Set(scope?.regency ?? []);
    this.unlimited = scope === undefined;
  }

  covers(place: Place): boolean {
    return this.unlimited || this.posyandu.has(place.posyandu) || this.puskesmas.has(place.puskesmas) || this.regency.has(place.regency);
  }

  /** A posyandu code from the registry; an unknown code is outside every limited scope. */
  coversPosyandu(code: string): boolean {
    if (this.unlimited) return true;
    const place = this.placeOf(code);
    return place !== undefined && this.covers(place);
  }

  coversPuskesmas(code: string): boolean {
    if (this.unlimited) return true;
    const p = this.facilities.puskesmas[code];
    return p !== undefined && (this.puskesmas.has(code) || this.regency.has(p.regency));
  }

  coversRegency(code: string): boolean {
    return this.unlimited || this.regency.has(code);
  }

  placeOf(posyandu: string): Place | undefined {
    const p = this.facilities.posyandu[posyandu];
    const pk = p ? this.facilities.puskesmas[p.puskesmas] : undefined;
    return p && pk ? { posyandu, puskesmas: p.puskesmas, regency: pk.regency } : undefined;
  }

  /** Every registry posyandu the key covers. */
  posyanduCodes(): string[] {
    return Object.keys(this.facilities.posyandu).filter((code) => this.coversPosyandu(code));
  }

  describe(): Scope | 'all' {
    if (this.unlimited) return 'all';
    return { posyandu: [...this.posyandu], puskesmas: [...this.puskesmas], regency: [...this.regency] };
  }
}
