/** One content record of an LDIF file (RFC 2849). */
export interface LdifEntry {
  dn: string;
  /** Attribute descriptions as written, with their values in file order. */
  attributes: Map<string, string[]>;
  /** Where the record starts, for messages. */
  source: string;
  line: number;
}

export class LdifSyntaxError extends Error {
  constructor(source: string, line: number, problem: string) {
    super(`${source}:${line}: ${problem}`);
  }
}

const LINE = /^([A-Za-z][A-Za-z0-9-]*(?:;[A-Za-z0-9-]+)*|\d+(?:\.\d+)+)(:<|::?)\s*(.*)$/;

/**
 * Parses LDIF content records. Change records, URL values and bad base64 are refused with the line
 * number, so a malformed file is rejected before anything is written.
 */
export function parseLdif(text: string, source: string): LdifEntry[] {
  // Unfold continuation lines, remembering where each logical line started.
  const lines: { text: string; line: number }[] = [];
  let inComment = false;
  text.split(/\r?\n/).forEach((raw, index) => {
    if (raw.startsWith(' ')) {
      if (inComment) return;
      const last = lines.at(-1);
      if (!last || last.text === '')
        throw new LdifSyntaxError(source, index + 1, 'continuation line with nothing to continue');
      last.text += raw.slice(1);
      return;
    }
    inComment = raw.startsWith('#');
    if (!inComment) lines.push({ text: raw, line: index + 1 });
  });

  const entries: LdifEntry[] = [];
  let current: LdifEntry | undefined;
  for (const { text: content, line } of lines) {
    if (content.trim() === '') {
      current = undefined;
      continue;
    }
    const match = LINE.exec(content);
    if (!match)
      throw new LdifSyntaxError(source, line, `expected "attribute: value", found "${content.slice(0, 40)}"`);
    const [, name = '', separator, rawValue = ''] = match;
    if (separator === ':<') throw new LdifSyntaxError(source, line, 'URL values are not supported');
    let value = rawValue;
    if (separator === '::') {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(rawValue))
        throw new LdifSyntaxError(source, line, 'invalid base64 value');
      value = Buffer.from(rawValue, 'base64').toString('utf8');
    }
    const lower = name.toLowerCase();
    if (!current) {
      if (lower === 'version' && entries.length === 0) continue;
      if (lower !== 'dn')
        throw new LdifSyntaxError(source, line, `a record must start with "dn:", not "${name}:"`);
      if (value.trim() === '') throw new LdifSyntaxError(source, line, 'empty dn');
      current = { dn: value.trim(), attributes: new Map(), source, line };
      entries.push(current);
      continue;
    }
    if (lower === 'changetype') {
      throw new LdifSyntaxError(
        source,
        line,
        'change records are not supported; write the entry as a content record',
      );
    }
    if (lower === 'dn') throw new LdifSyntaxError(source, line, 'a blank line must separate records');
    const key = [...current.attributes.keys()].find((k) => k.toLowerCase() === lower) ?? name;
    current.attributes.set(key, [...(current.attributes.get(key) ?? []), value]);
  }
  for (const entry of entries) {
    if (entry.attributes.size === 0)
      throw new LdifSyntaxError(source, entry.line, `entry ${entry.dn} has no attributes`);
  }
  return entries;
}
