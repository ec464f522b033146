// A `template` fills text from the row: `{path}`, `{a|b}` (the first of them present), `{path#slug}`
// (the value in lower-case letters, digits and '-': an id from a value with spaces or accents) and
// `{#index}` (the position of the element in an `each` list, from 0 as in `list[0]`).

export interface Placeholder {
  /** the paths tried in order; empty for `{#index}` */
  alternatives: string[];
  filter?: string;
  index: boolean;
}

export function parsePlaceholder(inner: string): Placeholder {
  const hash = inner.indexOf('#');
  const expr = (hash < 0 ? inner : inner.slice(0, hash)).trim();
  const filter = hash < 0 ? undefined : inner.slice(hash + 1).trim();
  if (expr === '' && filter === 'index') return { alternatives: [], index: true };
  return { alternatives: expr.split('|').map((p) => p.trim()), ...(filter === undefined ? {} : { filter }), index: false };
}

export function templatePlaceholders(template: string | undefined): Placeholder[] {
  return [...(template ?? '').matchAll(/\{([^}]+)\}/g)].map(([, inner = '']) => parsePlaceholder(inner));
}

/** "DPT-HB-Hib 1" → "dpt-hb-hib-1"; accents dropped ("Imunisasi Dasar Lengkap" → "imunisasi-dasar-lengkap"). */
export function slug(v: unknown): string {
  return String(v)
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}
