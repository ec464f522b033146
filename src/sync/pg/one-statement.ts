// Several writes sent as one statement: one round trip instead of one each, and so less time with
// the transaction's row locks held. For writes that do not read what the others write: as
// data-modifying WITH queries they all run, to completion, on one snapshot.

/** A statement and its parameters ($1, $2…). */
export interface Statement {
  sql: string;
  params: unknown[];
}

/** The statements as one (their parameters renumbered); undefined when there are none. */
export function oneStatement(statements: readonly Statement[]): Statement | undefined {
  if (statements.length <= 1) return statements[0];
  const params: unknown[] = [];
  const parts = statements.map((s) => {
    const offset = params.length;
    params.push(...s.params);
    return renumbered(s.sql, offset);
  });
  return { sql: `WITH ${parts.map((p, i) => `w${i} AS (${p})`).join(', ')} SELECT 1`, params };
}

/** The statement's parameters $1, $2… as $(1 + offset)… (to put it in a statement with others). */
export function renumbered(sql: string, offset: number): string {
  return sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`);
}
