import type { AttributeDefinition, StoredAttribute } from './definition.js';

/**
 * What replication lets through: two definitions created (or renamed) with one name, or two active
 * definitions given one claim name, at the same moment through different providers. Each provider
 * accepted its write, knowing nothing of the other; replication then carried both everywhere.
 */
export interface Conflict {
  kind: 'name' | 'claimName';
  /** The name or claim name, as the first of the definitions spells it. */
  value: string;
  /** The definitions that hold it (at least two), by inum. */
  definitions: StoredAttribute[];
}

/** The value of `kind` a definition holds, lower-cased: its name, or its claim name while it is active. */
export function heldValue(kind: Conflict['kind'], d: AttributeDefinition): string | undefined {
  if (kind === 'name') return d.name?.toLowerCase();
  return d.status === 'active' ? d.claimName?.toLowerCase() : undefined;
}

/** Every conflict among `definitions`, names first, each in order of value. */
export function findConflicts(definitions: Iterable<StoredAttribute>): Conflict[] {
  const found: Conflict[] = [];
  for (const kind of ['name', 'claimName'] as const) {
    const holders = new Map<string, StoredAttribute[]>();
    for (const s of definitions) {
      const value = heldValue(kind, s.definition);
      if (value !== undefined) holders.set(value, [...(holders.get(value) ?? []), s]);
    }
    const conflicts = [...holders]
      .filter(([, held]) => held.length > 1)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([, held]) => {
        const definitions = [...held].sort((a, b) => (a.definition.inum < b.definition.inum ? -1 : 1));
        const first = definitions[0]?.definition;
        return { kind, value: (kind === 'name' ? first?.name : first?.claimName) ?? '', definitions };
      });
    found.push(...conflicts);
  }
  return found;
}
