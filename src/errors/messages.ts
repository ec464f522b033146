import { defineMapping } from '../tables/registry.js';
import type { Issue } from './gerbang-error.js';

export type Language = 'id' | 'en';
type Catalogue = Record<string, Record<Language, string>>;
interface Catalogues {
  messages: Catalogue;
  fields: Catalogue;
  words: Catalogue;
}

// Message texts are data (mappings/messages.json) so that wording can be fixed by people who speak
// to kader every day, without touching code.
const catalogue = defineMapping<Catalogues>('messages.json', (d, fail) => {
  for (const section of ['messages', 'fields', 'words'] as const) {
    for (const [key, texts] of Object.entries(d[section] ?? {})) {
      if (typeof texts?.id !== 'string' || typeof texts?.en !== 'string') fail(`${section}.${key}`, 'needs both "id" and "en" texts');
    }
  }
});

export function hasMessage(key: string): boolean {
  return key in catalogue().messages;
}

/** The label a person reads for a field path such as `subject.nik`; array indexes are ignored. */
function fieldLabel(path: string, lang: Language): string {
  const generic = path.replace(/\[\d+\]/g, '');
  return catalogue().fields[generic]?.[lang] ?? generic;
}

export function message(key: string, lang: Language, params: Record<string, unknown> = {}): string {
  const template = catalogue().messages[key]?.[lang] ?? catalogue().messages[key]?.en ?? key;
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    if (name === 'field' && typeof params.field === 'string') return fieldLabel(params.field, lang);
    const value = params[name];
    if (value === undefined) return `{${name}}`;
    if (Array.isArray(value)) return value.join(', ');
    // Words such as "number" or ">=" are translated; values a client sent are shown as they are.
    return catalogue().words[String(value)]?.[lang] ?? String(value);
  });
}

/** What an issue says, in words: the field it is about, the app's column, and its own values. */
export function issueText(issue: Issue, lang: Language): string {
  return message(issue.key, lang, { ...(issue.path ? { field: issue.path } : {}), ...(issue.source ? { source: issue.source } : {}), ...issue.params });
}

/** Picks Indonesian unless the client asks for English first (Accept-Language). */
export function pickLanguage(acceptLanguage: string | undefined): Language {
  if (!acceptLanguage) return 'id';
  const ranked = acceptLanguage
    .split(',')
    .map((part) => {
      const [tag = '', ...rest] = part.trim().toLowerCase().split(';');
      const q = rest.find((p) => p.trim().startsWith('q='));
      return { tag: tag.split('-')[0] ?? '', q: q ? Number(q.trim().slice(2)) : 1 };
    })
    .filter((r) => r.tag === 'id' || r.tag === 'en')
    .sort((a, b) => b.q - a.q);
  return ranked[0]?.tag === 'en' ? 'en' : 'id';
}
