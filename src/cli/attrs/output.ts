import type { AuditEvent, DefinitionConflict, JansAttribute } from '../../client/index.js';

/** Rows as a plain table: columns padded to their widest cell, two spaces apart. */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)));
  return all
    .map(
      (row) =>
        row
          .map((cell, i) => cell.padEnd(widths[i] ?? 0))
          .join('  ')
          .trimEnd() + '\n',
    )
    .join('');
}

const LIST_COLUMNS = ['inum', 'name', 'displayName', 'dataType', 'status', 'claimName'] as const;

/** The list view: one definition per line. */
export function attributeTable(attributes: JansAttribute[]): string {
  return table(
    [...LIST_COLUMNS],
    attributes.map((a) => LIST_COLUMNS.map((c) => a[c] ?? '')),
  );
}

/** Fields every definition has that say nothing about it. */
const NOISE = new Set(['baseDn', 'selected', 'custom']);

/** One definition as `field: value` lines, ETag first. */
export function attributeDetails(attribute: JansAttribute, etag?: string): string {
  const lines = etag ? [['etag', etag]] : [];
  for (const [field, value] of Object.entries(attribute)) {
    if (NOISE.has(field) || value === undefined) continue;
    const text = Array.isArray(value)
      ? value.join(', ')
      : typeof value === 'object'
        ? JSON.stringify(value)
        : String(value);
    lines.push([field, text]);
  }
  const width = Math.max(...lines.map(([field]) => (field ?? '').length)) + 1;
  return lines.map(([field, text]) => `${`${field}:`.padEnd(width)} ${text}\n`).join('');
}

/** The history view: one audit event per line, with the paths its change touched. */
export function historyTable(events: AuditEvent[]): string {
  return table(
    ['time', 'status', 'operation', 'actor', 'changed'],
    events.map((e) => [
      e.time,
      String(e.status),
      e.operation,
      [e.actor.subject, e.actor.clientId].filter(Boolean).join(' / '),
      e.attributes
        ? e.attributes.map((a) => (a.status < 300 ? a.name : `${a.name} (${a.status})`)).join(', ')
        : [...new Set((e.diff ?? []).map((op) => op.path.split('/')[1] ?? ''))].join(', '),
    ]),
  );
}

/** One line per replication conflict: what is held twice, and the definitions (inum and name) holding it. */
export function conflictTable(conflicts: DefinitionConflict[]): string {
  return table(
    ['kind', 'value', 'definitions'],
    conflicts.map((c) => [
      c.kind,
      c.value,
      c.definitions.map((d) => `${d.inum}${d.name ? ` (${d.name})` : ''}`).join(', '),
    ]),
  );
}
