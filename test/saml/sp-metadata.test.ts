import { X509Certificate } from 'node:crypto';
import { NS, parseXmlStrict, selectElements } from '../../src/saml/xml';
import { createAcsHarness, SP_CERT_PEM, type AcsHarness } from './acs-harness';

let h: AcsHarness;
beforeEach(async () => {
  h = await createAcsHarness();
});
afterEach(async () => {
  await h.close();
});

describe('spMetadataXml', () => {
  it('describes the SP: entity ID, POST ACS, SLO, signing certificate, signed assertions wanted', () => {
    const { connection, sp } = h.connection({ slug: 'contoso' });
    const doc = parseXmlStrict(h.saml.spMetadataXml(connection), 'SP metadata');
    const root = doc.documentElement;
    expect(root.localName).toBe('EntityDescriptor');
    expect(root.namespaceURI).toBe(NS.md);
    expect(root.getAttribute('entityID')).toBe(connection.spEntityId);

    const [descriptor] = selectElements('/md:EntityDescriptor/md:SPSSODescriptor', doc);
    expect(descriptor?.getAttribute('protocolSupportEnumeration')).toBe('urn:oasis:names:tc:SAML:2.0:protocol');
    expect(descriptor?.getAttribute('AuthnRequestsSigned')).toBe('false');
    expect(descriptor?.getAttribute('WantAssertionsSigned')).toBe('true');

    const acs = selectElements('md:AssertionConsumerService', descriptor as Element);
    expect(acs.map((e) => [e.getAttribute('Binding'), e.getAttribute('Location')])).toEqual([
      ['urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', sp.acsUrl],
    ]);
    expect(acs[0]?.getAttribute('Location')).toBe('https://gatehouse.test/sso/contoso/acs');
    const slo = selectElements('md:SingleLogoutService', descriptor as Element);
    expect(slo.map((e) => [e.getAttribute('Binding'), e.getAttribute('Location')])).toEqual([
      ['urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', 'https://gatehouse.test/sso/contoso/logout'],
      ['urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', 'https://gatehouse.test/sso/contoso/logout'],
    ]);

    const certs = selectElements('md:KeyDescriptor[@use="signing"]/ds:KeyInfo/ds:X509Data/ds:X509Certificate', descriptor as Element);
    expect(certs).toHaveLength(1);
    const published = new X509Certificate(Buffer.from((certs[0]?.textContent ?? '').replace(/\s+/g, ''), 'base64'));
    expect(published.fingerprint256).toBe(new X509Certificate(SP_CERT_PEM).fingerprint256);
  });

  it('states AuthnRequestsSigned="true" when the connection signs its requests', () => {
    const { connection } = h.connection({ settings: { signAuthnRequests: true } });
    const doc = parseXmlStrict(h.saml.spMetadataXml(connection), 'SP metadata');
    expect(selectElements('//md:SPSSODescriptor', doc)[0]?.getAttribute('AuthnRequestsSigned')).toBe('true');
  });

  it('escapes an entity ID with XML-special characters', () => {
    const { connection } = h.connection({ spEntityId: 'urn:gatehouse:a&b<"c">' });
    const doc = parseXmlStrict(h.saml.spMetadataXml(connection), 'SP metadata');
    expect(doc.documentElement.getAttribute('entityID')).toBe('urn:gatehouse:a&b<"c">');
  });
});
