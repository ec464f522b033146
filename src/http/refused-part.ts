import type { Language } from '../errors/messages.js';
import type { RefusedPart } from '../ingest/ingest.js';
import { toOperationOutcome } from './operation-outcome.js';

/**
 * A refused record of a multi-record row, answered next to the records of the same row that went
 * in, in the words `$batch` uses for a refused item.
 */
export function refusedPart(part: RefusedPart, lang: Language) {
  return {
    result: 'refused' as const,
    ...(part.kind ? { kind: part.kind } : {}),
    code: part.error.code,
    outcome: toOperationOutcome(part.error.issues, lang),
    ...(part.provenance ? { provenance: part.provenance } : {}),
  };
}
