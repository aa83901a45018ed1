import { DOMParser, XMLSerializer } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import { generateSelfSignedKeyPair } from '../../src/saml/certs';
import { MetadataError, parseIdpMetadata, type MetadataErrorCode, type ParseIdpMetadataOptions } from '../../src/saml/metadata';
import { ALGORITHMS, certBase64, metadataFixture, pem, signMetadata } from '../fixtures/metadata/fixtures';

const FINGERPRINT = {
  signing1: 'A6:1D:5D:D2:7F:1D:DD:3E:B0:1F:80:E6:73:26:36:21:E7:92:DD:F2:3C:BD:AB:21:19:FF:63:D4:D1:C8:C2:08',
  signing2: '21:BE:C8:C3:FC:19:EE:5B:E7:4E:48:41:94:63:AC:6D:07:37:62:0D:50:5F:D1:70:55:D6:64:EC:9D:F6:94:90',
  rogue: 'A2:D6:DA:3E:B7:F2:A1:93:FA:6E:4D:DA:05:49:C6:7E:2B:88:70:E6:4B:40:3B:42:A8:5D:74:B0:C2:7B:3E:07',
  expired: '89:56:9F:8F:8C:20:B4:44:10:34:A5:14:5F:FF:86:AA:8A:7A:40:E5:9B:35:8A:FA:47:D6:82:0F:F4:5A:37:44',
};

const TENANT = '8eaef023-2b34-4da1-9baa-8bc8c9d6a490';
const ENTRA_ENTITY = `https://sts.windows.net/${TENANT}/`;
const ENTRA_SAML2 = `https://login.microsoftonline.com/${TENANT}/saml2`;
const UNI_A = 'https://idp.university-a.example/idp/shibboleth';
const UNI_B = 'https://idp.university-b.example/idp/shibboleth';
const NOW = new Date('2027-03-01T12:00:00Z');

function parse(xml: string, options: Partial<ParseIdpMetadataOptions> = {}) {
  return parseIdpMetadata(xml, { source: { kind: 'xml' }, now: NOW, ...options });
}

/** Runs fn and returns the MetadataError it throws (fails the test on anything else). */
function refusal(fn: () => unknown): MetadataError {
  try {
    fn();
  } catch (error) {
    if (error instanceof MetadataError) return error;
    throw error;
  }
  throw new Error('expected a MetadataError, but nothing was thrown');
}

function expectRefusal(fn: () => unknown, code: MetadataErrorCode, message?: RegExp): MetadataError {
  const error = refusal(fn);
  expect(error.code).toBe(code);
  expect(error.status).toBe(400);
  if (message) expect(error.message).toMatch(message);
  return error;
}

describe('parseIdpMetadata: Microsoft Entra ID federation metadata', () => {
  const entra = signMetadata(metadataFixture('entra.xml'));

  it('reads the entity, both endpoints, SLO and both rollover certificates, and verifies the signature', () => {
    const idp = parse(entra, { source: { kind: 'url', url: `https://login.microsoftonline.com/${TENANT}/federationmetadata/2007-06/federationmetadata.xml` } });
    expect(idp).toMatchObject({
      entityId: ENTRA_ENTITY,
      ssoRedirectUrl: ENTRA_SAML2,
      ssoPostUrl: ENTRA_SAML2,
      sloUrl: ENTRA_SAML2,
      nameIdFormats: [],
      metadataSigned: true,
      source: { kind: 'url', url: expect.stringContaining('federationmetadata.xml') },
      importedAt: NOW,
    });
    expect(idp.certs.map((c) => c.fingerprint)).toEqual([FINGERPRINT.signing1, FINGERPRINT.signing2]);
    expect(idp.certs[0]).toMatchObject({
      subject: 'CN=idp-signing-1.gatehouse-test',
      pem: pem('idp-signing-1.crt'),
      notAfter: new Date('2126-10-29T07:44:39Z'),
    });
  });

  it('takes certificates only from the IDPSSODescriptor, not from the WS-Federation RoleDescriptors', () => {
    const idp = parse(metadataFixture('entra.xml', { 'role-descriptor': 'idp-rogue' }));
    expect(idp.certs.map((c) => c.fingerprint)).toEqual([FINGERPRINT.signing1, FINGERPRINT.signing2]);
  });

  it('accepts the same metadata unsigned, with metadataSigned false', () => {
    const idp = parse(metadataFixture('entra.xml'));
    expect(idp.metadataSigned).toBe(false);
    expect(idp.certs).toHaveLength(2);
  });

  it('accepts the leading byte-order mark Entra and AD FS put on the file', () => {
    expect(parse(`\uFEFF${entra}`).metadataSigned).toBe(true);
  });

  it('lists a certificate once when two KeyDescriptors carry the same one', () => {
    const idp = parse(metadataFixture('entra.xml', { 'idp-signing-2': 'idp-signing-1' }));
    expect(idp.certs.map((c) => c.fingerprint)).toEqual([FINGERPRINT.signing1]);
  });

  it('checks the entity ID when one is given (re-import of a different IdP is refused)', () => {
    expect(parse(entra, { entityId: ENTRA_ENTITY }).entityId).toBe(ENTRA_ENTITY);
    expectRefusal(() => parse(entra, { entityId: 'https://sts.windows.net/00000000-0000-0000-0000-000000000000/' }), 'entity_not_found', /is for the entity https:\/\/sts\.windows\.net\/8eaef023/);
  });
});

describe('parseIdpMetadata: Okta metadata', () => {
  it('reads md:-prefixed metadata, NameID formats and a line-wrapped certificate', () => {
    const idp = parse(metadataFixture('okta.xml'));
    expect(idp).toMatchObject({
      entityId: 'http://www.okta.com/exk9gatehouse0test5d7',
      ssoRedirectUrl: 'https://gatehouse-test.okta.com/app/gatehouse-test_gatehouse_1/exk9gatehouse0test5d7/sso/saml',
      ssoPostUrl: 'https://gatehouse-test.okta.com/app/gatehouse-test_gatehouse_1/exk9gatehouse0test5d7/sso/saml',
      sloUrl: null,
      nameIdFormats: ['urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified', 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
      metadataSigned: false,
    });
    expect(idp.certs.map((c) => c.fingerprint)).toEqual([FINGERPRINT.signing1]);
  });

  it('prefers the HTTP-Redirect SingleLogoutService over an earlier HTTP-POST one', () => {
    const withSlo = metadataFixture('okta.xml').replace(
      '<md:NameIDFormat>',
      '<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://gatehouse-test.okta.com/slo/post"/>' +
        '<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://gatehouse-test.okta.com/slo/redirect"/>' +
        '<md:NameIDFormat>',
    );
    expect(parse(withSlo).sloUrl).toBe('https://gatehouse-test.okta.com/slo/redirect');
  });

  it('reads the SingleLogoutService ResponseLocation and binding (single logout answers go there)', () => {
    const withSlo = (slo: string) => metadataFixture('okta.xml').replace('<md:NameIDFormat>', `${slo}<md:NameIDFormat>`);
    const redirect = parse(
      withSlo(
        '<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/slo" ResponseLocation="https://idp.example/slo/done"/>',
      ),
    );
    expect(redirect).toMatchObject({ sloUrl: 'https://idp.example/slo', sloResponseUrl: 'https://idp.example/slo/done', sloBinding: 'redirect' });
    const postOnly = parse(
      withSlo('<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.example/slo" ResponseLocation="javascript:alert(1)"/>'),
    );
    expect(postOnly).toMatchObject({ sloUrl: 'https://idp.example/slo', sloResponseUrl: null, sloBinding: 'post' });
    expect(parse(metadataFixture('okta.xml'))).toMatchObject({ sloUrl: null, sloResponseUrl: null, sloBinding: null });
  });
});

describe('parseIdpMetadata: EntitiesDescriptor aggregates', () => {
  const aggregate = metadataFixture('aggregate.xml');

  it('requires the entity ID when the aggregate holds several IdPs, and lists them', () => {
    const error = expectRefusal(() => parse(aggregate), 'entity_id_required', /2 identity providers/);
    expect(error.message).toContain(UNI_A);
    expect(error.message).toContain(UNI_B);
    expect(error.details).toEqual({ entityIds: [UNI_A, UNI_B] });
  });

  it('picks the entity named by entityId', () => {
    const a = parse(aggregate, { entityId: UNI_A });
    expect(a).toMatchObject({
      entityId: UNI_A,
      ssoRedirectUrl: null,
      ssoPostUrl: 'https://idp.university-a.example/idp/profile/SAML2/POST/SSO',
      sloUrl: 'https://idp.university-a.example/idp/profile/SAML2/POST/SLO',
      nameIdFormats: ['urn:oasis:names:tc:SAML:2.0:nameid-format:transient', 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent'],
    });
    // The KeyDescriptor without "use" counts as signing; the use="encryption" one does not.
    expect(a.certs.map((c) => c.fingerprint)).toEqual([FINGERPRINT.signing1]);

    const b = parse(aggregate, { entityId: UNI_B });
    expect(b).toMatchObject({ entityId: UNI_B, ssoRedirectUrl: 'https://idp.university-b.example/idp/profile/SAML2/Redirect/SSO', ssoPostUrl: null });
    expect(b.certs.map((c) => c.fingerprint)).toEqual([FINGERPRINT.signing2]);
  });

  it('uses the only IdP of an aggregate when no entityId is given', () => {
    const onlyA = aggregate.replace(/<md:EntityDescriptor entityID="https:\/\/idp\.university-b[\s\S]*?<\/md:EntityDescriptor>/, '');
    expect(onlyA).not.toContain(UNI_B);
    expect(parse(onlyA).entityId).toBe(UNI_A);
  });

  it('refuses an entityId the aggregate does not list', () => {
    expectRefusal(() => parse(aggregate, { entityId: 'https://idp.other.example/' }), 'entity_not_found', /no entity with entityID https:\/\/idp\.other\.example\/.*It lists: .*university-a/);
  });

  it('verifies a signature on the chosen entity inside the aggregate', () => {
    const signedB = signMetadata(aggregate, { signer: 'idp-signing-2', target: `//*[@entityID='${UNI_B}']` });
    expect(parse(signedB, { entityId: UNI_B }).metadataSigned).toBe(true);
    expect(parse(signedB, { entityId: UNI_A }).metadataSigned).toBe(false); // B's signature says nothing about A
  });

  it('verifies an aggregate signed by a federation key only against a trusted certificate', () => {
    const signed = signMetadata(aggregate, { signer: 'idp-rogue' }); // stands in for the federation operator's key
    expect(parse(signed, { entityId: UNI_A, trustedCertsPem: [pem('idp-rogue.crt')] }).metadataSigned).toBe(true);
    expectRefusal(() => parse(signed, { entityId: UNI_A }), 'metadata_signature_invalid', /not made with any of the 1 certificate/);
  });
});

describe('parseIdpMetadata: refusals an admin can act on', () => {
  it('refuses service provider metadata', () => {
    expectRefusal(() => parse(metadataFixture('sp.xml')), 'sp_metadata', /service provider metadata.*Federation Metadata XML from the IdP/);
  });

  it('refuses an aggregate holding only service providers as SP metadata', () => {
    const sps = `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">${metadataFixture('sp.xml').replace(/<\?xml[^>]*>/, '')}</md:EntitiesDescriptor>`;
    expectRefusal(() => parse(sps), 'sp_metadata');
  });

  it('refuses metadata whose only certificate has expired, naming it', () => {
    const error = expectRefusal(() => parse(metadataFixture('expired-only.xml')), 'all_certificates_expired', /idp-expired\.gatehouse-test.*2021-01-01/);
    expect(error.details).toEqual({ fingerprints: [FINGERPRINT.expired] });
  });

  it('accepts an expired certificate next to a valid one, and still lists it', () => {
    const idp = parse(metadataFixture('entra.xml', { 'idp-signing-2': 'idp-expired' }));
    expect(idp.certs.map((c) => c.fingerprint)).toEqual([FINGERPRINT.signing1, FINGERPRINT.expired]);
    expect(idp.certs[1]?.notAfter).toEqual(new Date('2021-01-01T00:00:00Z'));
  });

  it('judges validity at options.now', () => {
    expect(parse(metadataFixture('expired-only.xml'), { now: new Date('2020-06-01T00:00:00Z') }).certs).toHaveLength(1);
    expectRefusal(() => parse(metadataFixture('okta.xml'), { now: new Date('2127-01-01T00:00:00Z') }), 'all_certificates_expired');
    // Not valid yet (the fixture certificates start on 2026-11-22) counts as unusable too.
    expectRefusal(() => parse(metadataFixture('okta.xml'), { now: new Date('2026-01-01T00:00:00Z') }), 'all_certificates_expired', /valid 2026-11-22/);
  });

  it('refuses metadata without a signing certificate (an encryption-only key does not count)', () => {
    expectRefusal(() => parse(metadataFixture('no-cert.xml')), 'no_signing_certificate', /no signing certificate/);
  });

  it('refuses metadata without a usable SingleSignOnService (SOAP only, javascript: Location)', () => {
    expectRefusal(() => parse(metadataFixture('no-sso.xml')), 'no_sso_service', /HTTP-Redirect or HTTP-POST/);
  });

  it('refuses a certificate that cannot be read', () => {
    const notBase64 = metadataFixture('okta.xml').replace(/<ds:X509Certificate>[\s\S]*?<\/ds:X509Certificate>/, '<ds:X509Certificate>not base64!</ds:X509Certificate>');
    expectRefusal(() => parse(notBase64), 'invalid_certificate', /Signing certificate 1 .*not valid base64/);
    const notACert = metadataFixture('okta.xml').replace(/<ds:X509Certificate>[\s\S]*?<\/ds:X509Certificate>/, '<ds:X509Certificate>aGVsbG8gd29ybGQ=</ds:X509Certificate>');
    expectRefusal(() => parse(notACert), 'invalid_certificate', /not an X\.509 certificate/);
  });

  it('refuses a document that is not SAML metadata', () => {
    expectRefusal(() => parse('<html><body>Sign in</body></html>'), 'not_metadata', /root element is <html>/);
    expectRefusal(() => parse('<EntityDescriptor entityID="x"/>'), 'not_metadata', /not an <EntityDescriptor>/); // no namespace
    expectRefusal(
      () => parse('<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r"/>'),
      'not_metadata',
      /root element is <samlp:Response> in namespace urn:oasis:names:tc:SAML:2\.0:protocol/,
    );
    expectRefusal(() => parse('<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"/>'), 'not_metadata', /without an entityID/);
  });

  it('refuses an entity without a SAML 2.0 IDPSSODescriptor', () => {
    expectRefusal(
      () => parse('<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://aa.example/"><md:AttributeAuthorityDescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></md:EntityDescriptor>'),
      'no_idp_descriptor',
      /no <IDPSSODescriptor>/,
    );
    const saml11Only = metadataFixture('okta.xml').replace('protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"', 'protocolSupportEnumeration="urn:oasis:names:tc:SAML:1.1:protocol"');
    expectRefusal(() => parse(saml11Only), 'no_idp_descriptor', /does not declare SAML 2\.0 support/);
  });

  it('refuses what is not XML', () => {
    expectRefusal(() => parse(''), 'not_xml', /empty/);
    expectRefusal(() => parse(`https://login.microsoftonline.com/${TENANT}/federationmetadata/2007-06/federationmetadata.xml`), 'not_xml', /Paste the metadata XML document itself/);
    expectRefusal(() => parse(certBase64('idp-signing-1')), 'not_xml');
    expectRefusal(() => parse(metadataFixture('okta.xml').replace('</md:IDPSSODescriptor>', '')), 'not_xml', /not well-formed/);
  });

  it('refuses a DOCTYPE before parsing (billion laughs, XXE)', () => {
    expectRefusal(() => parse(metadataFixture('billion-laughs.xml')), 'doctype_forbidden', /DOCTYPE or ENTITY/);
    expectRefusal(() => parse(metadataFixture('xxe.xml')), 'doctype_forbidden');
  });
});

describe('parseIdpMetadata: metadata signatures', () => {
  const entraXml = metadataFixture('entra.xml');

  it('verifies against a trusted (pinned) certificate as well as the metadata\'s own', () => {
    const signedByRogue = signMetadata(entraXml, { signer: 'idp-rogue' });
    expect(parse(signedByRogue, { trustedCertsPem: [pem('idp-rogue.crt')] }).metadataSigned).toBe(true);
  });

  it('refuses metadata changed after signing', () => {
    const signed = signMetadata(entraXml);
    const tampered = signed.replace(
      `<SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${ENTRA_SAML2}"/>`,
      '<SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://evil.example/saml2"/>',
    );
    expect(tampered).not.toBe(signed);
    expectRefusal(() => parse(tampered), 'metadata_signature_invalid', /changed after it was signed/);
  });

  it('never trusts the key in the signature\'s own KeyInfo', () => {
    // Signed with the rogue key; its KeyInfo carries the rogue certificate, the metadata lists only signing-1/2.
    const signedByRogue = signMetadata(entraXml, { signer: 'idp-rogue' });
    expect(signedByRogue).toContain(certBase64('idp-rogue'));
    expectRefusal(() => parse(signedByRogue), 'metadata_signature_invalid', /not made with any of the 2 certificate/);
  });

  it('refuses SHA-1 signatures and digests', () => {
    const sha1 = signMetadata(entraXml, { signatureAlgorithm: ALGORITHMS.rsaSha1, digestAlgorithm: ALGORITHMS.sha1 });
    expectRefusal(() => parse(sha1), 'metadata_signature_invalid', /signature algorithm .*rsa-sha1; only RSA-SHA256 and RSA-SHA512/);
    const sha1Digest = signMetadata(entraXml, { digestAlgorithm: ALGORITHMS.sha1 });
    expectRefusal(() => parse(sha1Digest), 'metadata_signature_invalid', /digest algorithm .*#sha1; only SHA-256 and SHA-512/);
  });

  it('refuses a signature it cannot read, or with an unsupported canonicalization, as invalid (not as a crash)', () => {
    const signed = signMetadata(entraXml);
    const noC14n = signed.replace(/<CanonicalizationMethod [^>]*\/>/, '');
    expectRefusal(() => parse(noC14n), 'metadata_signature_invalid', /unsupported canonicalization \(none\)/);
    const noSignedInfo = signed.replace(/<SignedInfo>[\s\S]*<\/SignedInfo>/, '');
    expectRefusal(() => parse(noSignedInfo), 'metadata_signature_invalid', /exactly one <SignedInfo>/);
    const noSignatureValue = signed.replace(/<SignatureValue>[^<]*<\/SignatureValue>/, '');
    expectRefusal(() => parse(noSignatureValue), 'metadata_signature_invalid');
  });

  it('tries at most 8 candidate certificates, so a document cannot buy unbounded verification work', async () => {
    const generated = await Promise.all([1, 2, 3, 4].map(async (n) => (await generateSelfSignedKeyPair({ commonName: `extra-${n}`, days: 1 })).certPem));
    // Entity lists signing-2 and the expired cert; the real signer (signing-1) comes last among the trusted ones,
    // and without KeyInfo there is no hint to try it first.
    const xml = metadataFixture('entra.xml', { 'idp-signing-1': 'idp-signing-2', 'idp-signing-2': 'idp-expired', 'role-descriptor': 'idp-signing-2' });
    const signedWithKeyInfo = signMetadata(xml);
    const signed = signedWithKeyInfo.replace(/<KeyInfo><X509Data><X509Certificate>[^<]*<\/X509Certificate><\/X509Data><\/KeyInfo><\/Signature>/, '</Signature>');
    expect(/<Signature[\s\S]*?<\/Signature>/.exec(signed)?.[0]).not.toContain('KeyInfo');
    const others = [pem('idp-rogue.crt'), pem('sp-signing.crt'), ...generated];
    // 2 + 6 + signing-1 = 9 candidates: signing-1 is never tried.
    expectRefusal(() => parse(signed, { trustedCertsPem: [...others, pem('idp-signing-1.crt')] }), 'metadata_signature_invalid', /only the first 8 are tried/);
    // 2 + 5 + signing-1 = 8 candidates: it is.
    expect(parse(signed, { trustedCertsPem: [...others.slice(1), pem('idp-signing-1.crt')] }).metadataSigned).toBe(true);
    // With KeyInfo, the certificate it names (when it is a candidate) is tried first.
    expect(parse(signedWithKeyInfo, { trustedCertsPem: [...others, pem('idp-signing-1.crt')] }).metadataSigned).toBe(true);
  });

  describe('signature wrapping', () => {
    const serializer = new XMLSerializer();

    /**
     * The attack: keep a genuinely signed EntityDescriptor, hide it in <Extensions> of a forged one, and move its
     * signature into the forged root. The signature still verifies (it covers the hidden element, by ID), but the
     * parser would read the forged root with the attacker's certificate and SSO URL.
     */
    function wrapSignedEntra(): { wrapped: string; signature: Element } {
      const signed = signMetadata(entraXml);
      const doc = new DOMParser().parseFromString(signed, 'text/xml');
      const genuine = doc.documentElement;
      const signature = genuine.getElementsByTagNameNS('http://www.w3.org/2000/09/xmldsig#', 'Signature')[0] as Element;
      genuine.removeChild(signature);
      const forged = `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" ID="_forged" entityID="${ENTRA_ENTITY}">` +
        `${serializer.serializeToString(signature)}` +
        `<Extensions>${serializer.serializeToString(genuine)}</Extensions>` +
        '<IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">' +
        `<KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>${certBase64('idp-rogue')}</X509Certificate></X509Data></KeyInfo></KeyDescriptor>` +
        '<SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://evil.example/saml2"/>' +
        '</IDPSSODescriptor></EntityDescriptor>';
      const forgedDoc = new DOMParser().parseFromString(forged, 'text/xml');
      const movedSignature = forgedDoc.documentElement.getElementsByTagNameNS('http://www.w3.org/2000/09/xmldsig#', 'Signature')[0] as Element;
      return { wrapped: forged, signature: movedSignature };
    }

    it('is not caught by xml-crypto alone (so the test below exercises our check)', () => {
      const { wrapped, signature } = wrapSignedEntra();
      const verifier = new SignedXml({ publicCert: pem('idp-signing-1.crt'), getCertFromKeyInfo: () => null });
      verifier.loadSignature(signature);
      expect(verifier.checkSignature(wrapped)).toBe(true);
    });

    it('refuses a signature that references another element than the entity being read', () => {
      const { wrapped } = wrapSignedEntra();
      // Even with Entra's genuine certificate pinned, the forged root is not what was signed.
      expectRefusal(() => parse(wrapped, { trustedCertsPem: [pem('idp-signing-1.crt')] }), 'metadata_signature_invalid', /points at another element/);
    });

    it('refuses a chosen entity carrying a signature copied from a sibling', () => {
      const aggregate = metadataFixture('aggregate.xml');
      const signedA = signMetadata(aggregate, { target: `//*[@entityID='${UNI_A}']` });
      const signatureXml = /<Signature[\s\S]*?<\/Signature>/.exec(signedA)?.[0] ?? '';
      expect(signatureXml).toContain('URI="#_entity-a"');
      const moved = signedA.replace(signatureXml, '').replace(/(<md:EntityDescriptor entityID="https:\/\/idp\.university-b[^>]*>)/, `$1${signatureXml}`);
      expectRefusal(() => parse(moved, { entityId: UNI_B, trustedCertsPem: [pem('idp-signing-1.crt')] }), 'metadata_signature_invalid', /points at another element/);
    });

    it('refuses a Reference whose ID is not unique in the document', () => {
      const signed = signMetadata(entraXml);
      const duplicated = signed.replace('<IDPSSODescriptor ', '<IDPSSODescriptor ID="_4f5a6b7c-8d9e-4f01-9234-56789abcdef0" ');
      expectRefusal(() => parse(duplicated), 'metadata_signature_invalid', /points at another element/);
    });
  });
});
