import { expect } from 'chai';
import {
  BOOLEAN_SYNTAX,
  allowInClass,
  attributeTypeDefinition,
  nextOid,
  parseSchemaElement,
} from '../../../src/ldap/schema.js';

describe('parseSchemaElement', () => {
  it('reads an object class: oid, names, SUP, MUST and MAY', () => {
    expect(
      parseSchemaElement(
        "( 2.5.6.6 NAME 'person' DESC 'RFC2256: a person' SUP top STRUCTURAL MUST ( sn $ cn ) " +
          'MAY ( userPassword $ telephoneNumber $ seeAlso $ description ) )',
      ),
    ).to.deep.equal({
      oid: '2.5.6.6',
      names: ['person'],
      sup: ['top'],
      attributes: ['sn', 'cn', 'userPassword', 'telephoneNumber', 'seeAlso', 'description'],
      syntax: undefined,
    });
  });

  it('reads several names, a single MUST without parentheses and several superiors', () => {
    const element = parseSchemaElement(
      "( 1.3.6.1.4.1.48710.1.4.101 NAME ( 'jansPerson' 'gluuPerson' ) SUP ( top $ person ) AUXILIARY MUST uid MAY jansAttr1 )",
    );
    expect(element.names).to.deep.equal(['jansPerson', 'gluuPerson']);
    expect(element.sup).to.deep.equal(['top', 'person']);
    expect(element.attributes).to.deep.equal(['uid', 'jansAttr1']);
  });

  it('reads an attribute type with its syntax, without the length bound', () => {
    const element = parseSchemaElement(
      "( 2.5.4.3 NAME ( 'cn' 'commonName' ) DESC 'RFC4519: common name(s) for which the entity is known by' " +
        'SUP name EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{32768} )',
    );
    expect(element).to.deep.include({ oid: '2.5.4.3', names: ['cn', 'commonName'], sup: ['name'] });
    expect(element.syntax).to.equal('1.3.6.1.4.1.1466.115.121.1.15');
  });

  it('reads the boolean syntax of a flag attribute', () => {
    const element = parseSchemaElement(
      "( 1.3.6.1.4.1.48710.1.3.1003 NAME 'jansMultivaluedAttr' SYNTAX 1.3.6.1.4.1.1466.115.121.1.7 SINGLE-VALUE X-ORIGIN 'Jans created attribute' )",
    );
    expect(element.syntax).to.equal(BOOLEAN_SYNTAX);
    expect(element.names).to.deep.equal(['jansMultivaluedAttr']);
  });

  it('ignores keywords inside quoted text such as DESC and X-ORIGIN', () => {
    const element = parseSchemaElement(
      "( 1.2.3.4 NAME 'registryExt' DESC 'SUP evil MAY ( rootPassword ) MUST ( x )' SUP top AUXILIARY " +
        "MAY ( jansRequired ) X-ORIGIN 'MAY ( other )' )",
    );
    expect(element.sup).to.deep.equal(['top']);
    expect(element.attributes).to.deep.equal(['jansRequired']);
  });

  it('keeps OIDs given in attribute lists', () => {
    expect(parseSchemaElement("( 1.2.3.5 NAME 'x' MAY ( 2.5.4.3 $ cn ) )").attributes).to.deep.equal([
      '2.5.4.3',
      'cn',
    ]);
  });

  it('answers empty lists for an element with none of the clauses', () => {
    expect(parseSchemaElement("( 1.2.3.6 NAME 'bare' )")).to.deep.equal({
      oid: '1.2.3.6',
      names: ['bare'],
      sup: [],
      attributes: [],
      syntax: undefined,
    });
  });
});

describe('schema changes', () => {
  const custom =
    "{2}( 1.3.6.1.4.1.48710.1.4.101 NAME 'jansCustomPerson' SUP top AUXILIARY MAY ( mobile $ cn ) X-ORIGIN 'Janssen' )";

  it('writes an attribute type whose syntax follows the data type, single-valued unless multi-valued', () => {
    const single = attributeTypeDefinition(
      { name: 'shoeSize', dataType: 'numeric', multiValued: false },
      '1.2.3',
    );
    expect(single).to.equal(
      "( 1.2.3 NAME 'shoeSize' DESC 'shoeSize' EQUALITY integerMatch ORDERING integerOrderingMatch " +
        "SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE X-ORIGIN 'attribute registry' )",
    );
    const many = attributeTypeDefinition(
      { name: 'badge', dataType: 'boolean', multiValued: true, description: "Holder's badge" },
      '1.2.4',
    );
    expect(many).to.contain(`SYNTAX ${BOOLEAN_SYNTAX}`).and.not.contain('SINGLE-VALUE');
    expect(many).to.contain("DESC 'Holders badge'");
    const parsed = parseSchemaElement(single);
    expect([parsed.oid, parsed.names]).to.deep.equal(['1.2.3', ['shoeSize']]);
  });

  it('adds a name to the MAY list of a class, keeping its ordering prefix and the rest', () => {
    const extended = allowInClass(custom, 'shoeSize');
    expect(extended).to.equal(
      "{2}( 1.3.6.1.4.1.48710.1.4.101 NAME 'jansCustomPerson' SUP top AUXILIARY MAY ( mobile $ cn $ shoeSize ) X-ORIGIN 'Janssen' )",
    );
    expect(allowInClass("( 1.2 NAME 'c' SUP top AUXILIARY MAY cn )", 'sn')).to.contain('MAY ( cn $ sn )');
    expect(allowInClass("( 1.2 NAME 'c' SUP top AUXILIARY X-ORIGIN 'x' )", 'sn')).to.equal(
      "( 1.2 NAME 'c' SUP top AUXILIARY MAY sn X-ORIGIN 'x' )",
    );
  });

  it('numbers a new type one past the highest under the arc', () => {
    const types = ['1.2.3.1', '1.2.3.7', '1.2.30.9', '1.2.3.2'].map((oid) =>
      parseSchemaElement(`( ${oid} NAME 'a' )`),
    );
    expect(nextOid('1.2.3', types)).to.equal('1.2.3.8');
    expect(nextOid('1.2.4', types)).to.equal('1.2.4.1');
  });
});
