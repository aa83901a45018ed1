/**
 * The SP metadata document an admin gives the IdP (Entra: "Upload metadata file"). Built here rather than with
 * node-saml's generateServiceProviderMetadata because that ties AuthnRequestsSigned to the presence of a private key
 * and omits the signing certificate otherwise; we always publish the signing certificate (harmless, and it lets an
 * admin switch on signed requests without re-uploading metadata) and state AuthnRequestsSigned per connection.
 */
import { X509Certificate } from 'node:crypto';

export interface SpMetadataInput {
  entityId: string;
  acsUrl: string;
  sloUrl: string;
  /** The SP signing certificate (PEM). */
  signingCertPem: string;
  authnRequestsSigned: boolean;
}

const NS_MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const NS_DS = 'http://www.w3.org/2000/09/xmldsig#';
const BINDING_POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const BINDING_REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Base64 DER of the certificate, wrapped at 64 columns (parsing it also rejects a PEM that is not a certificate). */
function certificateBody(pem: string): string {
  const der = new X509Certificate(pem).raw.toString('base64');
  return der.replace(/(.{64})/g, '$1\n').trim();
}

export function buildSpMetadataXml(input: SpMetadataInput): string {
  const entityId = escapeAttribute(input.entityId);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<md:EntityDescriptor xmlns:md="${NS_MD}" xmlns:ds="${NS_DS}" entityID="${entityId}">`,
    `  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="${input.authnRequestsSigned}" WantAssertionsSigned="true">`,
    '    <md:KeyDescriptor use="signing">',
    '      <ds:KeyInfo>',
    '        <ds:X509Data>',
    `          <ds:X509Certificate>${certificateBody(input.signingCertPem)}</ds:X509Certificate>`,
    '        </ds:X509Data>',
    '      </ds:KeyInfo>',
    '    </md:KeyDescriptor>',
    // Both bindings are answered at the same URL (src/http/sso.ts); HTTP-Redirect first, the one Entra uses.
    `    <md:SingleLogoutService Binding="${BINDING_REDIRECT}" Location="${escapeAttribute(input.sloUrl)}"/>`,
    `    <md:SingleLogoutService Binding="${BINDING_POST}" Location="${escapeAttribute(input.sloUrl)}"/>`,
    `    <md:AssertionConsumerService Binding="${BINDING_POST}" Location="${escapeAttribute(input.acsUrl)}" index="0" isDefault="true"/>`,
    '  </md:SPSSODescriptor>',
    '</md:EntityDescriptor>',
    '',
  ].join('\n');
}
