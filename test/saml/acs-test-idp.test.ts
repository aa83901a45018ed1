/**
 * The test IdP itself: its fast signer must produce exactly what xml-crypto produces (otherwise every ACS test
 * would be testing a home-made signature format), its responses must look like Entra's, and its metadata must be
 * well-formed Entra-style federation metadata.
 */
import { DOMParser } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import { parseXmlStrict, selectElements } from '../../src/saml/xml';
import { certBase64, ENTRA_CLAIM, firstElement, SAML_NS, testCertPem, TestIdp, type ResponseOptions, type SpTarget } from '../helpers/test-idp';

const idp = new TestIdp();
const sp: SpTarget = { entityId: 'https://gatehouse.test/sso/contoso/metadata', acsUrl: 'https://gatehouse.test/sso/contoso/acs' };

function signatureValues(xml: string): Array<[string, string]> {
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  const digests = Array.from(doc.getElementsByTagNameNS(SAML_NS.dsig, 'DigestValue')).map((e) => e.textContent ?? '');
  const values = Array.from(doc.getElementsByTagNameNS(SAML_NS.dsig, 'SignatureValue')).map((e) => e.textContent ?? '');
  return digests.map((d, i) => [d, values[i] ?? '']);
}

describe('TestIdp signing', () => {
  const fixed: ResponseOptions = {
    now: new Date('2030-01-01T10:00:00.000Z'),
    responseId: '_resp-1',
    assertionId: '_assert-1',
    inResponseTo: '_req-1',
    user: { displayName: 'Zoë "Q" <O\'Brien> & co\r\nTabs\there' },
  };

  it.each(['assertion', 'response', 'both'] as const)('fast and xml-crypto signers agree (%s)', (sign) => {
    for (const signatureAlgorithm of ['sha256', 'sha1', 'sha512'] as const) {
      const fast = idp.buildResponse(sp, { ...fixed, sign, signatureAlgorithm });
      const reference = idp.buildResponse(sp, { ...fixed, sign, signatureAlgorithm, signer: 'xml-crypto' });
      expect(signatureValues(fast.xml)).toEqual(signatureValues(reference.xml));
      expect(signatureValues(fast.xml)).toHaveLength(sign === 'both' ? 2 : 1);
    }
  });

  it('produces signatures xml-crypto verifies against the signing certificate', () => {
    const { xml, assertionId } = idp.buildResponse(sp, { ...fixed, sign: 'assertion', key: 'idp-signing-2' });
    const doc = new DOMParser().parseFromString(xml, 'text/xml');
    const signature = firstElement(firstElement(doc, 'Assertion'), 'Signature');
    const verifier = new SignedXml({ publicCert: testCertPem('idp-signing-2') });
    verifier.loadSignature(signature);
    expect(verifier.checkSignature(xml)).toBe(true);
    expect(verifier.getReferences()[0]?.uri).toBe(`#${assertionId}`);
  });

  it('builds an Entra-shaped assertion', () => {
    const { xml } = idp.buildResponse(sp, { inResponseTo: '_req-2' });
    const doc = parseXmlStrict(xml, 'response');
    expect(selectElements('/samlp:Response/saml:Issuer', doc)[0]?.textContent).toBe(`https://sts.windows.net/${idp.tenantId}/`);
    const assertion = selectElements('/samlp:Response/saml:Assertion', doc)[0] as Element;
    // Signature right after the Issuer, as the schema requires and Entra does.
    expect(selectElements('*', assertion).map((e) => e.localName).slice(0, 3)).toEqual(['Issuer', 'Signature', 'Subject']);
    const data = selectElements('saml:Subject/saml:SubjectConfirmation[@Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"]/saml:SubjectConfirmationData', assertion)[0];
    expect(data?.getAttribute('Recipient')).toBe(sp.acsUrl);
    expect(data?.getAttribute('InResponseTo')).toBe('_req-2');
    expect(selectElements('saml:Conditions/saml:AudienceRestriction/saml:Audience', assertion)[0]?.textContent).toBe(sp.entityId);
    const names = selectElements('saml:AttributeStatement/saml:Attribute', assertion).map((a) => a.getAttribute('Name'));
    expect(names).toEqual(expect.arrayContaining(Object.values(ENTRA_CLAIM).filter((n) => n !== ENTRA_CLAIM.groupsLink)));
    expect(selectElements('saml:AuthnStatement', assertion)).toHaveLength(1);
  });
});

describe('TestIdp metadata', () => {
  it('lists one signing KeyDescriptor per certificate in the IDPSSODescriptor', () => {
    const doc = parseXmlStrict(idp.metadataXml({ certs: ['idp-signing-1', 'idp-signing-2'] }), 'metadata');
    expect(doc.documentElement.getAttribute('entityID')).toBe(idp.entityId);
    const certs = selectElements('/md:EntityDescriptor/md:IDPSSODescriptor/md:KeyDescriptor[@use="signing"]/ds:KeyInfo/ds:X509Data/ds:X509Certificate', doc);
    expect(certs.map((c) => c.textContent)).toEqual([certBase64('idp-signing-1'), certBase64('idp-signing-2')]);
    const sso = selectElements('/md:EntityDescriptor/md:IDPSSODescriptor/md:SingleSignOnService', doc);
    expect(sso.map((e) => e.getAttribute('Binding'))).toContain('urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect');
  });

  it('can sign the metadata (enveloped, first child of EntityDescriptor)', () => {
    const xml = idp.metadataXml({ sign: true });
    const doc = new DOMParser().parseFromString(xml, 'text/xml');
    const root = doc.documentElement;
    const first = selectElements('*', root)[0];
    expect(first?.localName).toBe('Signature');
    const verifier = new SignedXml({ publicCert: testCertPem('idp-signing-1') });
    verifier.loadSignature(first as Element);
    expect(verifier.checkSignature(xml)).toBe(true);
  });
});
