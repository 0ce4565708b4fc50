import { Attribute, BerWriter, Control, type BerReader, type Entry } from 'ldapts';

/**
 * The LDAP post-read control (RFC 4527): the server answers a write with the entry as it stands after
 * the write, so a writer learns the new version (entryCSN) without a second round trip. Not critical: a
 * server that does not support it just writes, and `entry` stays undefined. One instance per operation.
 */
export class PostReadControl extends Control {
  static readonly type = '1.3.6.1.1.13.2';
  /** The entry after the write, in the shape of an ldapts search entry. */
  entry: Entry | undefined;

  constructor(private readonly attributes: string[]) {
    super(PostReadControl.type, { critical: false });
  }

  protected override writeControl(writer: BerWriter): void {
    const value = new BerWriter();
    value.startSequence();
    for (const attribute of this.attributes) value.writeString(attribute);
    value.endSequence();
    writer.writeBuffer(value.buffer, 0x04);
  }

  protected override parseControl(reader: BerReader): void {
    // Thrown here, an error would be lost inside the client's socket handler and leave the operation
    // waiting for ever; an unreadable entry is just left undefined (the writer reads it again).
    try {
      // SearchResultEntry ::= [APPLICATION 4] SEQUENCE { objectName, attributes }
      reader.readSequence(0x64);
      const entry: Entry = { dn: reader.readString() ?? '' };
      reader.readSequence();
      const end = reader.offset + reader.length;
      while (reader.offset < end) {
        const attribute = new Attribute();
        attribute.parse(reader);
        entry[attribute.type] = attribute.values as string[];
      }
      this.entry = entry;
    } catch {
      this.entry = undefined;
    }
  }
}
