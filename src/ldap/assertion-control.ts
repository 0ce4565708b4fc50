import { BerWriter, Control, type Filter } from 'ldapts';

/**
 * The LDAP assertion control (RFC 4528): the server applies the operation only if the entry matches the
 * filter, and answers assertionFailed (122) otherwise. It turns read-then-write into compare-and-swap.
 */
export class AssertionControl extends Control {
  static readonly type = '1.3.6.1.1.12';
  static readonly FAILED = 122;

  constructor(private readonly assertion: Filter) {
    super(AssertionControl.type, { critical: true });
  }

  protected override writeControl(writer: BerWriter): void {
    const value = new BerWriter();
    this.assertion.write(value);
    writer.writeBuffer(value.buffer, 0x04);
  }
}
