import { expect } from 'chai';
import type { Entry } from 'ldapts';
import { fromEntry } from '../../../src/ldap/definition-entry.js';

describe('fromEntry', () => {
  const DN = 'inum=B4BA,ou=attributes,o=jans';

  it('maps a jansAttr entry to a definition', () => {
    const entry: Entry = {
      dn: DN,
      objectClass: ['top', 'jansAttr'],
      inum: 'B4BA',
      jansAttrName: 'nickname',
      displayName: 'Nickname',
      description: 'Casual name',
      jansAttrTyp: 'string',
      jansAttrOrigin: 'jansCustomPerson',
      jansClaimName: 'nickname',
      jansStatus: 'active',
      jansSAML1URI: 'urn:mace:dir:attribute-def:nickname',
      jansSAML2URI: 'urn:oid:2.16.840.1.113730.3.1.241',
      urn: 'http://openid.net/specs/openid-connect-core-1_0.html/StandardClaims/nickname',
      jansAttrEditTyp: ['admin', 'user'],
      jansAttrViewTyp: ['admin', 'user'],
      jansAttrUsgTyp: 'openid',
      jansMultivaluedAttr: 'FALSE',
      jansScimCustomAttr: 'TRUE',
      jansHideOnDiscovery: 'false',
      jansRequired: 'true',
      jansValidation: '{"minLength":1,"maxLength":64,"regexp":"^\\\\w+$"}',
    };
    expect(fromEntry(entry)).to.deep.equal({
      dn: DN,
      definition: {
        inum: 'B4BA',
        name: 'nickname',
        displayName: 'Nickname',
        description: 'Casual name',
        dataType: 'string',
        origin: 'jansCustomPerson',
        claimName: 'nickname',
        status: 'active',
        saml1Uri: 'urn:mace:dir:attribute-def:nickname',
        saml2Uri: 'urn:oid:2.16.840.1.113730.3.1.241',
        urn: 'http://openid.net/specs/openid-connect-core-1_0.html/StandardClaims/nickname',
        editType: ['admin', 'user'],
        viewType: ['admin', 'user'],
        usageType: ['openid'],
        oxMultiValuedAttribute: false,
        scimCustomAttr: true,
        jansHideOnDiscovery: false,
        required: true,
        attributeValidation: { minLength: 1, maxLength: 64, regexp: '^\\w+$' },
      },
    });
  });

  it('serves enumerated values in canonical spelling whatever case the directory holds', () => {
    const { definition } = fromEntry({
      dn: DN,
      inum: 'B4BA',
      jansAttrTyp: 'STRING',
      jansStatus: 'Inactive',
      jansAttrEditTyp: ['ADMIN'],
      jansAttrViewTyp: ['WHITEPAGES', 'User'],
    });
    expect(definition).to.deep.include({
      dataType: 'string',
      status: 'inactive',
      editType: ['admin'],
      viewType: ['whitePages', 'user'],
    });
  });

  it('keeps a value outside the enumeration as the directory holds it', () => {
    expect(fromEntry({ dn: DN, inum: 'X', jansAttrTyp: 'photo' }).definition.dataType).to.equal('photo');
  });

  it('takes the first of two descriptions', () => {
    const { definition } = fromEntry({ dn: DN, inum: 'X', description: ['First', 'Second'] });
    expect(definition.description).to.equal('First');
  });

  it('matches attribute names ignoring case and reads Buffer values as UTF-8', () => {
    const { definition } = fromEntry({
      dn: DN,
      INUM: 'X',
      jansattrname: Buffer.from('spitzname'),
      DisplayName: [Buffer.from('Spitzname für Zoë')],
    });
    expect(definition).to.deep.equal({ inum: 'X', name: 'spitzname', displayName: 'Spitzname für Zoë' });
  });

  it('reads Janssen’s validation JSON without its nulls and empty regexp', () => {
    const validation = (jansValidation: string) =>
      fromEntry({ dn: DN, inum: 'X', jansValidation }).definition.attributeValidation;
    expect(validation('{"minLength":null,"maxLength":10,"regexp":""}')).to.deep.equal({ maxLength: 10 });
    expect(validation('{"minLength":null,"maxLength":null,"regexp":""}')).to.equal(undefined);
    expect(validation('not json')).to.equal(undefined);
  });

  it('leaves out empty values and attributes it does not map', () => {
    const { definition } = fromEntry({
      dn: DN,
      inum: 'X',
      description: '',
      jansAttrEditTyp: [],
      objectClass: ['top', 'jansAttr'],
      jansSomethingElse: 'x',
    });
    expect(definition).to.deep.equal({ inum: 'X' });
  });
});
