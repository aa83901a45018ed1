/**
 * Reads a SAML 2.0 IdP metadata document (Entra "Federation Metadata XML", Okta, AD FS, Shibboleth, ...) into an
 * IdpDescriptor. node-saml parses no metadata, so this is our own reader on xmldom + xpath.
 *
 * Pure and synchronous: no I/O (fetching a metadata URL is metadata-fetch.ts). Every refusal is a MetadataError
 * whose code is stable and whose message tells the admin what to do.
 */
import { SignedXml } from 'xml-crypto';
import { ValidationError } from '../common/errors';
import type { IdpCertificate, IdpDescriptor } from '../provisioning/types';
import { describeCertificate, InvalidCertificateError, sha256Fingerprint } from './certs';
import { isElement, NS, parseXmlStrict, selectElements, XmlParseError } from './xml';

export type MetadataErrorCode =
  // parsing (metadata.ts)
  | 'not_xml'
  | 'doctype_forbidden'
  | 'not_metadata'
  | 'sp_metadata'
  | 'no_idp_descriptor'
  | 'no_sso_service'
  | 'no_signing_certificate'
  | 'invalid_certificate'
  | 'all_certificates_expired'
  | 'entity_not_found'
  | 'entity_id_required'
  | 'metadata_signature_invalid'
  // fetching (metadata-fetch.ts)
  | 'metadata_url_invalid'
  | 'metadata_url_forbidden'
  | 'metadata_fetch_failed'
  | 'metadata_too_large'
  | 'metadata_fetch_timeout';

/** Why IdP metadata was refused. HTTP 400 like every ValidationError; `code` says which check failed. */
export class MetadataError extends ValidationError {
  declare readonly code: MetadataErrorCode;

  constructor(code: MetadataErrorCode, message: string, details?: Record<string, unknown>) {
    super(message, details, code);
  }
}

export interface ParseIdpMetadataOptions {
  /** Which entity to use. Required when an aggregate (EntitiesDescriptor) holds several IdPs; checked otherwise. */
  entityId?: string;
  source: IdpDescriptor['source'];
  /** The time certificates are checked against and importedAt is set to (default: now). */
  now?: Date;
  /** Certificates (PEM or bare base64) that may also have signed the metadata, e.g. a federation's signing key. */
  trustedCertsPem?: string[];
}

const BINDING = {
  redirect: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
  post: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
} as const;

/** Only these are accepted on a metadata signature (design notes §4.5: no SHA-1, no HMAC). */
const ACCEPTED_SIGNATURE_ALGORITHMS = new Set([
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
]);
const ACCEPTED_DIGEST_ALGORITHMS = new Set(['http://www.w3.org/2001/04/xmlenc#sha256', 'http://www.w3.org/2001/04/xmlenc#sha512']);
const ENVELOPED_SIGNATURE = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
const ACCEPTED_TRANSFORMS = new Set([
  ENVELOPED_SIGNATURE,
  'http://www.w3.org/2001/10/xml-exc-c14n#',
  'http://www.w3.org/2001/10/xml-exc-c14n#WithComments',
  'http://www.w3.org/TR/2001/REC-xml-c14n-20010315',
  'http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments',
]);
/** The attributes xml-crypto resolves `URI="#..."` against; we must resolve them the same way. */
const ID_ATTRIBUTE_NAMES = ['Id', 'ID', 'id'];

/** How many candidate certificates a metadata signature is checked against at most (real metadata lists 1 to 3). */
const MAX_SIGNATURE_KEY_ATTEMPTS = 8;

/** A certificate that became valid a few minutes "in the future" is a clock difference, not a problem. */
const NOT_BEFORE_TOLERANCE_MS = 5 * 60_000;

/** How many entity IDs an error message lists before summarising. */
const MAX_LISTED_ENTITIES = 10;

const WHAT = 'The IdP metadata';

export function parseIdpMetadata(xml: string, options: ParseIdpMetadataOptions): IdpDescriptor {
  const now = options.now ?? new Date();
  const doc = parseMetadataXml(xml);
  const root = doc.documentElement;

  const entity = chooseEntity(root, options.entityId);
  const entityId = entity.getAttribute('entityID') ?? '';
  const idpRole = findIdpRole(entity, entityId);

  const certs = readSigningCertificates(idpRole, entityId);
  if (certs.length === 0) {
    throw new MetadataError(
      'no_signing_certificate',
      `The IdP metadata for ${entityId} lists no signing certificate (no <KeyDescriptor use="signing"> with an <X509Certificate>). ` +
        'Make sure a SAML signing certificate is active for this application at the IdP, then download the metadata again.',
    );
  }

  // Checked before endpoints and validity are read, so a tampered document is reported as tampered.
  const metadataSigned = verifyMetadataSignatures(xml, doc, root, entity, certs, options.trustedCertsPem ?? []);

  const sso = readSingleSignOnServices(idpRole, entityId);
  const slo = singleLogoutService(idpRole);
  const nameIdFormats = [
    ...new Set(selectElements('md:NameIDFormat', idpRole).map((el) => (el.textContent ?? '').trim()).filter((v) => v !== '')),
  ];

  assertSomeCertificateIsValid(certs, now, entityId);

  return {
    entityId,
    ssoRedirectUrl: sso.redirect,
    ssoPostUrl: sso.post,
    sloUrl: slo?.location ?? null,
    sloResponseUrl: slo?.responseLocation ?? null,
    sloBinding: slo?.binding ?? null,
    nameIdFormats,
    certs,
    metadataSigned,
    source: options.source,
    importedAt: now,
  };
}

function parseMetadataXml(xml: string): Document {
  let doc: Document;
  try {
    doc = parseXmlStrict(xml, WHAT);
  } catch (error) {
    if (!(error instanceof XmlParseError)) throw error;
    const hint =
      error.code === 'not_xml'
        ? ' Paste the metadata XML document itself (it starts with <EntityDescriptor>), not its URL or a certificate.'
        : ' IdP metadata never needs one; download the metadata from the IdP again instead of editing it.';
    throw new MetadataError(error.code, `${error.message}${hint}`);
  }
  const root = doc.documentElement;
  if (root.namespaceURI !== NS.md || (root.localName !== 'EntityDescriptor' && root.localName !== 'EntitiesDescriptor')) {
    throw new MetadataError(
      'not_metadata',
      `This XML is not SAML 2.0 metadata: its root element is <${root.nodeName}>` +
        `${root.namespaceURI ? ` in namespace ${root.namespaceURI}` : ''}, not an <EntityDescriptor> or <EntitiesDescriptor> ` +
        `in ${NS.md}. Download the SAML (Federation) Metadata XML from the IdP.`,
    );
  }
  return doc;
}

/** The EntityDescriptor to read: the root, or the one picked out of an aggregate. */
function chooseEntity(root: Element, wantedEntityId: string | undefined): Element {
  const entities = root.localName === 'EntityDescriptor' ? [root] : selectElements('.//md:EntityDescriptor', root);
  for (const entity of entities) {
    if (!entity.getAttribute('entityID')) {
      throw new MetadataError('not_metadata', 'The metadata has an <EntityDescriptor> without an entityID attribute.');
    }
  }

  if (wantedEntityId !== undefined) {
    const matches = entities.filter((entity) => entity.getAttribute('entityID') === wantedEntityId);
    if (matches.length === 1) return matches[0] as Element;
    if (matches.length > 1) {
      throw new MetadataError('not_metadata', `The metadata lists the entity ${wantedEntityId} more than once, so it is ambiguous.`);
    }
    const listed = entityIdsOf(entities);
    throw new MetadataError(
      'entity_not_found',
      root === entities[0]
        ? `This metadata is for the entity ${listed[0]}, not ${wantedEntityId}. Check that it is the right IdP's metadata.`
        : `The metadata has no entity with entityID ${wantedEntityId}. It lists: ${summarise(listed)}.`,
      { entityIds: listed.slice(0, MAX_LISTED_ENTITIES) },
    );
  }

  if (root.localName === 'EntityDescriptor') return root;
  const idpEntities = entities.filter((entity) => selectElements('md:IDPSSODescriptor', entity).length > 0);
  if (idpEntities.length === 1) return idpEntities[0] as Element;
  if (idpEntities.length > 1) {
    const listed = entityIdsOf(idpEntities);
    throw new MetadataError(
      'entity_id_required',
      `The metadata describes ${idpEntities.length} identity providers; say which one to use (its entityID). It lists: ${summarise(listed)}.`,
      { entityIds: listed.slice(0, MAX_LISTED_ENTITIES) },
    );
  }
  if (entities.some((entity) => selectElements('md:SPSSODescriptor', entity).length > 0)) throw spMetadataError();
  throw new MetadataError('no_idp_descriptor', 'The metadata describes no identity provider (no entity has an <IDPSSODescriptor>).');
}

function entityIdsOf(entities: Element[]): string[] {
  return entities.map((entity) => entity.getAttribute('entityID') ?? '');
}

function summarise(values: string[]): string {
  const shown = values.slice(0, MAX_LISTED_ENTITIES).join(', ');
  return values.length > MAX_LISTED_ENTITIES ? `${shown} and ${values.length - MAX_LISTED_ENTITIES} more` : shown;
}

function spMetadataError(): MetadataError {
  return new MetadataError(
    'sp_metadata',
    'This looks like service provider metadata (it has an <SPSSODescriptor> but no <IDPSSODescriptor>); ' +
      'download the Federation Metadata XML from the IdP instead.',
  );
}

/** The entity's SAML 2.0 IDPSSODescriptor. */
function findIdpRole(entity: Element, entityId: string): Element {
  const roles = selectElements('md:IDPSSODescriptor', entity);
  if (roles.length === 0) {
    if (selectElements('md:SPSSODescriptor', entity).length > 0) throw spMetadataError();
    throw new MetadataError(
      'no_idp_descriptor',
      `The metadata for ${entityId} has no <IDPSSODescriptor>, so it does not describe a SAML identity provider.`,
    );
  }
  const saml2 = roles.find((role) => (role.getAttribute('protocolSupportEnumeration') ?? '').split(/\s+/).includes(NS.samlp));
  if (!saml2) {
    throw new MetadataError(
      'no_idp_descriptor',
      `The identity provider ${entityId} does not declare SAML 2.0 support (protocolSupportEnumeration lacks ${NS.samlp}).`,
    );
  }
  return saml2;
}

/** Every certificate of every signing KeyDescriptor (use="signing" or no use), deduplicated, in document order. */
function readSigningCertificates(idpRole: Element, entityId: string): IdpCertificate[] {
  const byFingerprint = new Map<string, IdpCertificate>();
  const keyDescriptors = selectElements('md:KeyDescriptor', idpRole).filter((kd) => {
    const use = kd.getAttribute('use');
    return !kd.hasAttribute('use') || use === 'signing';
  });
  keyDescriptors.forEach((keyDescriptor, index) => {
    // X509Data may carry a chain; every certificate in it is a key the IdP publishes for signing.
    for (const element of selectElements('ds:KeyInfo/ds:X509Data/ds:X509Certificate', keyDescriptor)) {
      let cert: IdpCertificate;
      try {
        cert = describeCertificate(element.textContent ?? '');
      } catch (error) {
        if (!(error instanceof InvalidCertificateError)) throw error;
        throw new MetadataError(
          'invalid_certificate',
          `Signing certificate ${index + 1} in the metadata for ${entityId} cannot be read: ${error.message} ` +
            'Download the metadata from the IdP again rather than editing it.',
        );
      }
      if (!byFingerprint.has(cert.fingerprint)) byFingerprint.set(cert.fingerprint, cert);
    }
  });
  return [...byFingerprint.values()];
}

function readSingleSignOnServices(idpRole: Element, entityId: string): { redirect: string | null; post: string | null } {
  const redirect = firstEndpoint(idpRole, 'md:SingleSignOnService', [BINDING.redirect]);
  const post = firstEndpoint(idpRole, 'md:SingleSignOnService', [BINDING.post]);
  if (!redirect && !post) {
    throw new MetadataError(
      'no_sso_service',
      `The metadata for ${entityId} has no usable SingleSignOnService: Gatehouse needs one with the HTTP-Redirect or ` +
        'HTTP-POST binding and an http(s) Location.',
    );
  }
  return { redirect, post };
}

/** The Location of the first endpoint with the most preferred binding; endpoints without an http(s) URL are skipped. */
function firstEndpoint(idpRole: Element, path: string, bindingsByPreference: string[]): string | null {
  return firstEndpointElement(idpRole, path, bindingsByPreference)?.location ?? null;
}

function firstEndpointElement(idpRole: Element, path: string, bindingsByPreference: string[]): { element: Element; binding: string; location: string } | null {
  const endpoints = selectElements(path, idpRole);
  for (const binding of bindingsByPreference) {
    for (const endpoint of endpoints) {
      if (endpoint.getAttribute('Binding') !== binding) continue;
      const location = (endpoint.getAttribute('Location') ?? '').trim();
      // The browser is sent to this URL: never a javascript:/data: URL or a relative one.
      if (isHttpUrl(location)) return { element: endpoint, binding, location };
    }
  }
  return null;
}

/** The SingleLogoutService (HTTP-Redirect preferred), with its ResponseLocation when that is an http(s) URL. */
function singleLogoutService(idpRole: Element): { location: string; responseLocation: string | null; binding: 'redirect' | 'post' } | null {
  const endpoint = firstEndpointElement(idpRole, 'md:SingleLogoutService', [BINDING.redirect, BINDING.post]);
  if (!endpoint) return null;
  const responseLocation = (endpoint.element.getAttribute('ResponseLocation') ?? '').trim();
  return {
    location: endpoint.location,
    responseLocation: isHttpUrl(responseLocation) ? responseLocation : null,
    binding: endpoint.binding === BINDING.redirect ? 'redirect' : 'post',
  };
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

function assertSomeCertificateIsValid(certs: IdpCertificate[], now: Date, entityId: string): void {
  const t = now.getTime();
  const usable = certs.some((c) => c.notAfter.getTime() > t && c.notBefore.getTime() <= t + NOT_BEFORE_TOLERANCE_MS);
  if (usable) return;
  const listing = certs
    .map((c) => `${c.subject} (${c.fingerprint.slice(0, 11)}…): valid ${c.notBefore.toISOString()} to ${c.notAfter.toISOString()}`)
    .join('; ');
  throw new MetadataError(
    'all_certificates_expired',
    `None of the signing certificates in the metadata for ${entityId} is valid now: ${listing}. ` +
      'Create or activate a new SAML signing certificate at the IdP, then download the metadata again.',
    { fingerprints: certs.map((c) => c.fingerprint) },
  );
}

// ---- metadata signature -------------------------------------------------------------------------------------

/**
 * Verifies the enveloped signatures that cover what we read: one on the root, and (inside an aggregate) one on the
 * chosen entity. Returns true when at least one is present and every present one verifies; an unverifiable or
 * invalid signature is refused rather than ignored, so a tampered document never passes as "unsigned".
 */
function verifyMetadataSignatures(
  xml: string,
  doc: Document,
  root: Element,
  entity: Element,
  entityCerts: IdpCertificate[],
  trustedCertsPem: string[],
): boolean {
  const signed = entity === root ? [root] : [root, entity];
  const checks = signed.flatMap((target) => selectElements('ds:Signature', target).map((signature) => ({ target, signature })));
  if (checks.length === 0) return false;

  const candidates = candidateCertificates(entityCerts, trustedCertsPem);
  for (const { target, signature } of checks) {
    verifyEnvelopedSignature(xml, doc, target, signature, candidates);
  }
  return true;
}

interface CandidateCert {
  pem: string;
  fingerprint: string;
}

function candidateCertificates(entityCerts: IdpCertificate[], trustedCertsPem: string[]): CandidateCert[] {
  const byFingerprint = new Map<string, CandidateCert>();
  for (const cert of entityCerts) byFingerprint.set(cert.fingerprint, { pem: cert.pem, fingerprint: cert.fingerprint });
  trustedCertsPem.forEach((pem, index) => {
    let cert: IdpCertificate;
    try {
      cert = describeCertificate(pem);
    } catch (error) {
      if (!(error instanceof InvalidCertificateError)) throw error;
      throw new MetadataError('invalid_certificate', `Trusted certificate ${index + 1} (for the metadata signature) cannot be read: ${error.message}`);
    }
    byFingerprint.set(cert.fingerprint, { pem: cert.pem, fingerprint: cert.fingerprint });
  });
  return [...byFingerprint.values()];
}

function signatureInvalid(reason: string, detail?: string): MetadataError {
  return new MetadataError(
    'metadata_signature_invalid',
    `The metadata is signed, but the signature is not valid: ${reason} Download the metadata from the IdP again ` +
      '(do not edit a signed metadata file).',
    detail ? { detail } : undefined,
  );
}

function verifyEnvelopedSignature(xml: string, doc: Document, target: Element, signature: Element, candidates: CandidateCert[]): void {
  const signedInfo = selectElements('ds:SignedInfo', signature);
  if (signedInfo.length !== 1) throw signatureInvalid('it does not have exactly one <SignedInfo>.');
  const info = signedInfo[0] as Element;

  const canonicalization = selectElements('ds:CanonicalizationMethod', info)[0]?.getAttribute('Algorithm') ?? '';
  if (!ACCEPTED_TRANSFORMS.has(canonicalization) || canonicalization === ENVELOPED_SIGNATURE) {
    throw signatureInvalid(`it uses the unsupported canonicalization ${canonicalization || '(none)'}.`);
  }
  const signatureAlgorithm = selectElements('ds:SignatureMethod', info)[0]?.getAttribute('Algorithm') ?? '';
  if (!ACCEPTED_SIGNATURE_ALGORITHMS.has(signatureAlgorithm)) {
    throw signatureInvalid(`it uses the signature algorithm ${signatureAlgorithm || '(none)'}; only RSA-SHA256 and RSA-SHA512 are accepted.`);
  }

  // Anti-wrapping: the one Reference must designate exactly the element we read, and the signature must sit inside it.
  // Otherwise a valid signature over some other (hidden) element could vouch for content it never covered.
  const references = selectElements('ds:Reference', info);
  if (references.length !== 1) throw signatureInvalid(`it has ${references.length} references; metadata signatures have exactly one.`);
  const reference = references[0] as Element;
  const digestAlgorithm = selectElements('ds:DigestMethod', reference)[0]?.getAttribute('Algorithm') ?? '';
  if (!ACCEPTED_DIGEST_ALGORITHMS.has(digestAlgorithm)) {
    throw signatureInvalid(`it uses the digest algorithm ${digestAlgorithm || '(none)'}; only SHA-256 and SHA-512 are accepted.`);
  }
  for (const transform of selectElements('ds:Transforms/ds:Transform', reference)) {
    const algorithm = transform.getAttribute('Algorithm') ?? '';
    if (!ACCEPTED_TRANSFORMS.has(algorithm)) throw signatureInvalid(`it uses the unsupported transform ${algorithm || '(none)'}.`);
  }
  // (The signature sits inside `target` by construction: only child <Signature>s of the root/entity are checked.)
  if (referencedElement(doc, reference.getAttribute('URI')) !== target) {
    throw signatureInvalid('it does not cover the entity being imported (its Reference points at another element).');
  }

  // The signature's own KeyInfo is only a hint for which candidate to try first; it is never trusted by itself.
  // Each attempt re-canonicalises the whole document (about 1 s of CPU for 1 MB), so a document listing hundreds
  // of certificates must not buy hundreds of attempts.
  const hinted = keyInfoFingerprint(signature);
  const ordered = [...candidates]
    .sort((a, b) => Number(b.fingerprint === hinted) - Number(a.fingerprint === hinted))
    .slice(0, MAX_SIGNATURE_KEY_ATTEMPTS);

  let lastError = '';
  for (const candidate of ordered) {
    const verifier = new SignedXml({
      publicCert: candidate.pem,
      // Never take the key from the signature's own KeyInfo (anyone could sign then). xml-crypto 6 already defaults
      // to this; older majors did not, so it is stated here rather than left to a default.
      getCertFromKeyInfo: () => null,
    });
    // Defence in depth: even if the checks above missed something, xml-crypto must not run SHA-1.
    delete verifier.SignatureAlgorithms['http://www.w3.org/2000/09/xmldsig#rsa-sha1'];
    delete verifier.HashAlgorithms['http://www.w3.org/2000/09/xmldsig#sha1'];
    let valid: boolean;
    try {
      verifier.loadSignature(signature);
    } catch (error) {
      throw signatureInvalid('it cannot be read.', error instanceof Error ? error.message : String(error));
    }
    try {
      valid = verifier.checkSignature(xml);
    } catch (error) {
      // xml-crypto throws when the signature value does not match this key: try the next one.
      lastError = error instanceof Error ? error.message : String(error);
      continue;
    }
    if (!valid) {
      // References are checked before the key, so this fails the same way with every key: the content changed.
      throw signatureInvalid('the signed content was changed after it was signed.');
    }
    if (verifier.getSignedReferences().length !== 1) throw signatureInvalid('it did not verify exactly one reference.');
    return;
  }
  throw signatureInvalid(
    `it was not made with any of the ${ordered.length} certificate(s) it was checked against ` +
      `(the signing certificates in the metadata and any trusted certificates${candidates.length > ordered.length ? `; only the first ${ordered.length} are tried` : ''}).`,
    lastError.slice(0, 300),
  );
}

/** The element a same-document Reference URI designates, resolved as xml-crypto resolves it; null unless exactly one. */
function referencedElement(doc: Document, uri: string | null): Element | null {
  if (uri === '') return doc.documentElement;
  if (uri === null || !uri.startsWith('#') || uri.length === 1) return null;
  const id = uri.slice(1);
  // Count (element, attribute) pairs like xml-crypto does: an element carrying the value in both Id and ID is ambiguous too.
  // A plain DOM walk: an order of magnitude faster than the equivalent XPath on xmldom.
  const matches: Element[] = [];
  const pending: Node[] = [doc.documentElement];
  for (let node = pending.pop(); node; node = pending.pop()) {
    if (!isElement(node)) continue;
    for (let i = 0; i < node.attributes.length; i++) {
      const attr = node.attributes.item(i);
      if (attr && attr.value === id && ID_ATTRIBUTE_NAMES.includes(attr.localName ?? attr.name)) matches.push(node);
    }
    for (let child = node.lastChild; child; child = child.previousSibling) pending.push(child);
  }
  return matches.length === 1 ? (matches[0] as Element) : null;
}

/** Fingerprint of the certificate in the signature's KeyInfo, if any (garbage simply matches no candidate). */
function keyInfoFingerprint(signature: Element): string | null {
  const base64 = selectElements('ds:KeyInfo/ds:X509Data/ds:X509Certificate', signature)[0]?.textContent;
  return base64 ? sha256Fingerprint(Buffer.from(base64.replace(/\s+/g, ''), 'base64')) : null;
}
