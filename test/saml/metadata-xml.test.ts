/** parseXmlStrict and the namespace-bound XPath helper (src/saml/xml.ts), shared by metadata and the ACS pipeline. */
import { NS, parseXmlStrict, select, selectElements, XmlParseError, type XmlParseErrorCode } from '../../src/saml/xml';

function parseError(xml: string): XmlParseError {
  try {
    parseXmlStrict(xml, 'The document');
  } catch (error) {
    if (error instanceof XmlParseError) return error;
    throw error;
  }
  throw new Error('expected an XmlParseError');
}

function expectCode(xml: string, code: XmlParseErrorCode): XmlParseError {
  const error = parseError(xml);
  expect(error.code).toBe(code);
  expect(error.message).toMatch(/^The document /);
  return error;
}

describe('parseXmlStrict', () => {
  it('parses well-formed XML, with or without declaration, BOM and comments', () => {
    const doc = parseXmlStrict('\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n<!-- hi --><a x="1"><b>t &amp; u</b></a>\n', 'x');
    expect(doc.documentElement.localName).toBe('a');
    expect(doc.documentElement.textContent).toBe('t & u');
  });

  it.each([
    ['upper case', '<!DOCTYPE a><a/>'],
    ['lower case', '<!doctype a><a/>'],
    ['entity declaration alone', '<a><!ENTITY x "y"></a>'],
    ['mixed case entity', '<!DoCtYpE a [<!EnTiTy x "y">]><a>&x;</a>'],
    ['inside a comment', '<a><!-- <!DOCTYPE --></a>'],
  ])('refuses a DTD before parsing (%s)', (_name, xml) => {
    expectCode(xml, 'doctype_forbidden');
  });

  it.each([
    ['empty', ''],
    ['whitespace', ' \n\t'],
    ['plain text', 'hello'],
    ['unclosed element (an xmldom warning)', '<a><b></a>'],
    ['missing end tag (an xmldom warning)', '<a>'],
    ['duplicate attribute (an xmldom fatal error)', '<a x="1" x="2"/>'],
    ['unquoted attribute (an xmldom warning)', '<a b=c/>'],
    ['two root elements (an xmldom error)', '<a/><b/>'],
    ['undeclared entity (an xmldom error)', '<a>&nbsp;</a>'],
    ['text after the root element', '<a/>junk'],
    ['text before the root element', 'junk<a/>'],
    ['no root element', '<?xml version="1.0"?><!-- only a comment -->'],
  ])('refuses what is not well-formed XML (%s)', (_name, xml) => {
    expectCode(xml, 'not_xml');
  });
});

describe('select', () => {
  const doc = parseXmlStrict(
    `<x:EntityDescriptor xmlns:x="${NS.md}" entityID="e"><x:IDPSSODescriptor/><IDPSSODescriptor/><y:Signature xmlns:y="${NS.ds}"/></x:EntityDescriptor>`,
    'x',
  );

  it('binds our prefixes to namespaces, whatever prefixes the document uses', () => {
    expect(selectElements('/md:EntityDescriptor/md:IDPSSODescriptor', doc)).toHaveLength(1); // not the un-namespaced one
    expect(selectElements('//ds:Signature', doc)).toHaveLength(1);
    expect(select('/md:EntityDescriptor/@entityID', doc).map((n) => n.nodeValue)).toEqual(['e']);
    expect(selectElements('/md:EntityDescriptor/@entityID', doc)).toEqual([]); // attributes are not elements
  });

  it('throws for an expression that does not select nodes', () => {
    expect(() => select('count(//*)', doc)).toThrow(TypeError);
  });
});
