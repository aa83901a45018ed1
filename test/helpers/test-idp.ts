/**
 * A test identity provider that speaks like Microsoft Entra ID (design.md section 5).
 *
 * It builds SAML 2.0 Responses shaped like Entra's (issuer `https://sts.windows.net/<tenant>/`, NameID = UPN, the
 * Entra claim URIs, an assertion signed with RSA-SHA256 by default) and signs them with the keys in test/fixtures
 * (see test/fixtures/README.md): by default with a fast signer that writes canonical XML and signs it directly,
 * checked against xml-crypto (test/saml/acs-test-idp.test.ts), or through xml-crypto itself. Every part a test may
 * need to get wrong on purpose can be overridden, and post-signing hooks allow tampering and signature-wrapping
 * attacks on the signed document.
 *
 * Typical use:
 *
 *   const idp = new TestIdp();
 *   const connection = idp.connectionFor({ baseUrl: 'https://gatehouse.test', slug: 'contoso' });
 *   const sp = spTargetOf(connection, 'https://gatehouse.test');
 *   const body = idp.postBody(sp, { inResponseTo: requestId, relayState: '/reports' });
 *   await saml.validateAcsPost(connection, body);
 *
 * Nothing here is production code: the keys are public test fixtures.
 */
import { createHash, createPrivateKey, randomBytes, randomUUID, sign as signBytes, verify as verifyBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { DOMParser, XMLSerializer } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import type { Connection, ConnectionSettings, IdpCertificate, IdpDescriptor, JitSettings } from '../../src/provisioning/types';
import { defaultSpEntityId, spUrls } from '../../src/saml/urls';

// ---------------------------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------------------------

export const SAML_NS = {
  protocol: 'urn:oasis:names:tc:SAML:2.0:protocol',
  assertion: 'urn:oasis:names:tc:SAML:2.0:assertion',
  metadata: 'urn:oasis:names:tc:SAML:2.0:metadata',
  dsig: 'http://www.w3.org/2000/09/xmldsig#',
} as const;

export const STATUS = {
  success: 'urn:oasis:names:tc:SAML:2.0:status:Success',
  requester: 'urn:oasis:names:tc:SAML:2.0:status:Requester',
  responder: 'urn:oasis:names:tc:SAML:2.0:status:Responder',
  authnFailed: 'urn:oasis:names:tc:SAML:2.0:status:AuthnFailed',
  noPassive: 'urn:oasis:names:tc:SAML:2.0:status:NoPassive',
} as const;

export const NAMEID_FORMAT = {
  email: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  persistent: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  transient: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
  unspecified: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
} as const;

/** The claim URIs Entra sends (design.md section 5). */
export const ENTRA_CLAIM = {
  name: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
  email: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
  givenName: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname',
  surname: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname',
  objectId: 'http://schemas.microsoft.com/identity/claims/objectidentifier',
  tenantId: 'http://schemas.microsoft.com/identity/claims/tenantid',
  displayName: 'http://schemas.microsoft.com/identity/claims/displayname',
  groups: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups',
  groupsLink: 'http://schemas.microsoft.com/claims/groups.link',
  identityProvider: 'http://schemas.microsoft.com/identity/claims/identityprovider',
  authnMethodsReferences: 'http://schemas.microsoft.com/claims/authnmethodsreferences',
} as const;

const ALGORITHMS = {
  sha1: { signature: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1', digest: 'http://www.w3.org/2000/09/xmldsig#sha1' },
  sha256: {
    signature: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    digest: 'http://www.w3.org/2001/04/xmlenc#sha256',
  },
  sha512: {
    signature: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
    digest: 'http://www.w3.org/2001/04/xmlenc#sha512',
  },
} as const;

const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';

export type HashName = keyof typeof ALGORITHMS;

/** The key pairs in test/fixtures that the test IdP can sign with. */
export type TestKeyName = 'idp-signing-1' | 'idp-signing-2' | 'idp-rogue' | 'idp-expired';

/** Which element(s) carry an enveloped signature. Entra's default is 'assertion'. */
export type SigningMode = 'assertion' | 'response' | 'both' | 'none';

/** test/fixtures, from test/helpers (jest) or dist/test/helpers (the compiled benchmarks). */
export const FIXTURES_DIR = [path.resolve(__dirname, '../fixtures'), path.resolve(__dirname, '../../../test/fixtures')].find((dir) =>
  existsSync(path.join(dir, 'idp-signing-1.key')),
) ?? path.resolve(__dirname, '../fixtures');

// ---------------------------------------------------------------------------------------------------------------
// Keys (read and parsed once: building thousands of responses for the benchmark must not re-read PEM files)
// ---------------------------------------------------------------------------------------------------------------

interface LoadedKey {
  privateKey: KeyObject;
  certPem: string;
  cert: X509Certificate;
}

const keyCache = new Map<TestKeyName, LoadedKey>();

function loadKey(name: TestKeyName): LoadedKey {
  let loaded = keyCache.get(name);
  if (!loaded) {
    const certPem = readFileSync(path.join(FIXTURES_DIR, `${name}.crt`), 'utf8');
    loaded = {
      privateKey: createPrivateKey(readFileSync(path.join(FIXTURES_DIR, `${name}.key`), 'utf8')),
      certPem,
      cert: new X509Certificate(certPem),
    };
    keyCache.set(name, loaded);
  }
  return loaded;
}

/** The PEM certificate of a fixture key. */
export function testCertPem(name: TestKeyName): string {
  return loadKey(name).certPem;
}

/** The certificate as Gatehouse stores it (IdpDescriptor.certs entry). */
export function idpCertificate(name: TestKeyName): IdpCertificate {
  const { cert, certPem } = loadKey(name);
  return {
    pem: certPem,
    fingerprint: cert.fingerprint256,
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    subject: cert.subject,
  };
}

/** The certificate body (base64 DER, no PEM armour), as it appears in metadata and KeyInfo. */
export function certBase64(name: TestKeyName): string {
  return loadKey(name).cert.raw.toString('base64');
}

// ---------------------------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------------------------

/** Base64 of a UTF-8 string, as an HTTP-POST binding carries a SAMLResponse. */
export function base64(xml: string): string {
  return Buffer.from(xml, 'utf8').toString('base64');
}

export function escapeXml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A SAML time (xs:dateTime, UTC), e.g. 2024-05-01T10:00:00.000Z. */
export function samlInstant(date: Date): string {
  return date.toISOString();
}

export function newSamlId(): string {
  // Entra's ids look like `_` + a GUID; an NCName must not start with a digit.
  return `_${randomUUID()}`;
}

export function parseXml(xml: string): Document {
  return new DOMParser().parseFromString(xml, 'text/xml');
}

export function serializeXml(doc: Node): string {
  return new XMLSerializer().serializeToString(doc);
}

/** Element children with the given local name (any namespace), in document order, at any depth. */
export function elementsByLocalName(root: Document | Element, localName: string): Element[] {
  return Array.from(root.getElementsByTagNameNS('*', localName));
}

/** The first element with this local name, or throws (for tamper hooks, where absence is a test bug). */
export function firstElement(root: Document | Element, localName: string): Element {
  const found = elementsByLocalName(root, localName)[0];
  if (!found) throw new Error(`test-idp: no <${localName}> in the document`);
  return found;
}

// ---------------------------------------------------------------------------------------------------------------
// The user and the SP the response is for
// ---------------------------------------------------------------------------------------------------------------

/** The person signing in, as Entra describes them. */
export interface TestUser {
  upn: string;
  email: string;
  givenName: string;
  surname: string;
  displayName: string;
  /** Entra object id (immutable). */
  objectId: string;
  /** Group object ids (GUIDs). */
  groups: string[];
}

export const DEFAULT_USER: Readonly<TestUser> = Object.freeze({
  upn: 'adele.vance@contoso.example',
  email: 'adele.vance@contoso.example',
  givenName: 'Adele',
  surname: 'Vance',
  displayName: 'Adele Vance',
  objectId: '9f4e6a1c-2b3d-4e5f-8a9b-0c1d2e3f4a5b',
  groups: ['5b8d2c1e-7a4f-4d3b-9e2a-1c0b9a8f7e6d', 'c3e1a7b9-2d4f-4a6c-8e0b-1f3d5a7c9e2b'],
});

/** Where the response goes: the SP's entity ID (audience) and ACS URL (Destination, Recipient). */
export interface SpTarget {
  entityId: string;
  acsUrl: string;
}

/** The SP target of a Gatehouse connection. */
export function spTargetOf(connection: Pick<Connection, 'slug' | 'spEntityId'>, baseUrl: string): SpTarget {
  return { entityId: connection.spEntityId, acsUrl: spUrls(baseUrl, connection.slug).acsUrl };
}

// ---------------------------------------------------------------------------------------------------------------
// Response options
// ---------------------------------------------------------------------------------------------------------------

/**
 * Everything a test can change about a response. Defaults give a valid, Entra-shaped, assertion-signed response
 * for an IdP-initiated login. `null` means "omit this element/attribute" where that is meaningful.
 */
export interface ResponseOptions {
  /** Which element(s) to sign. Default 'assertion' (Entra's default). */
  sign?: SigningMode;
  /** Which fixture key signs. Default 'idp-signing-1'. */
  key?: TestKeyName;
  /** Signature algorithm (RSA-<hash>). Default sha256. */
  signatureAlgorithm?: HashName;
  /** Digest algorithm of the reference. Defaults to the signature algorithm's hash. */
  digestAlgorithm?: HashName;
  /** Include the signing certificate in KeyInfo (Entra does). Default true. */
  includeKeyInfo?: boolean;
  /**
   * 'fast' (default) signs the canonical XML the builder writes, without parsing; 'xml-crypto' signs through
   * xml-crypto. Both give the same digests and signature values; raw extra XML always uses xml-crypto.
   */
  signer?: 'fast' | 'xml-crypto';

  /** The reference time every default is computed from. Default: now. */
  now?: Date;
  /** Response and Assertion IssueInstant. Default: now. */
  issueInstant?: Date;
  /** Conditions/@NotBefore. Default now - 5 minutes (Entra backdates by 5 minutes). null omits it. */
  notBefore?: Date | null;
  /** Conditions/@NotOnOrAfter. Default now + 1 hour (Entra's lifetime is ~70 minutes). null omits it. */
  notOnOrAfter?: Date | null;
  /** SubjectConfirmationData/@NotOnOrAfter. Default now + 5 minutes. null omits it. */
  subjectNotOnOrAfter?: Date | null;
  /** AuthnStatement/@AuthnInstant. Default: now. */
  authnInstant?: Date;

  /** Audience values. Default [sp.entityId]. null omits AudienceRestriction entirely. */
  audience?: string | string[] | null;
  /** Response/@Destination. Default sp.acsUrl. null omits it. */
  destination?: string | null;
  /** SubjectConfirmationData/@Recipient. Default sp.acsUrl. null omits it. */
  recipient?: string | null;
  /** Response Issuer. Default the IdP entity ID. null omits it (allowed by SAML core). */
  responseIssuer?: string | null;
  /** Assertion Issuer. Default the IdP entity ID. */
  assertionIssuer?: string;
  /** SubjectConfirmation/@Method. Default bearer. */
  confirmationMethod?: string;

  /** Top-level status code. Default Success. */
  statusCode?: string;
  /** A nested (second-level) status code. */
  subStatusCode?: string;
  statusMessage?: string;
  /** Omit the Assertion (e.g. for error responses). Default: omitted when statusCode is not Success. */
  omitAssertion?: boolean;

  /** InResponseTo on Response and SubjectConfirmationData. Default null (IdP-initiated). */
  inResponseTo?: string | null;
  /** InResponseTo on SubjectConfirmationData only, when it should differ from the Response's. */
  subjectInResponseTo?: string | null;

  responseId?: string;
  assertionId?: string;
  sessionIndex?: string;

  /** The user; fields not given come from DEFAULT_USER. */
  user?: Partial<TestUser>;
  /** NameID value. Default user.upn (Entra default). */
  nameId?: string;
  /** NameID/@Format. Default emailAddress (Entra's default for UPN). null omits it. */
  nameIdFormat?: string | null;
  /** Replaces the whole attribute set (claim URI -> values). Default: the Entra claims for the user. */
  attributes?: Record<string, string[]>;
  /** Added to (and overriding) the default attribute set. */
  extraAttributes?: Record<string, string[]>;

  /** Raw XML inserted at the end of the Assertion, before signing (covered by the signature). */
  extraAssertionXml?: string;
  /** Raw XML inserted at the end of the Response, before signing. */
  extraResponseXml?: string;
  /** Raw XML placed before the root element (e.g. a DOCTYPE). Added after signing. */
  prolog?: string;

  /** Post-signing DOM mutations, applied in order (tampering, signature wrapping). */
  tamper?: Array<(doc: Document) => void> | ((doc: Document) => void);
  /** Post-signing string mutations, applied after `tamper` (e.g. comment injection in raw text). */
  tamperXml?: Array<(xml: string) => string> | ((xml: string) => string);
}

export interface BuiltResponse {
  /** The final (signed, possibly tampered) XML. */
  xml: string;
  /** base64(xml), what the browser posts as SAMLResponse. */
  samlResponse: string;
  responseId: string;
  assertionId: string;
}

export interface PostBody {
  SAMLResponse: string;
  RelayState?: string;
}

// ---------------------------------------------------------------------------------------------------------------
// The IdP
// ---------------------------------------------------------------------------------------------------------------

export interface TestIdpOptions {
  /** Entra directory (tenant) id. Default a fixed GUID. */
  tenantId?: string;
  /** The IdP entity ID. Default `https://sts.windows.net/<tenantId>/`. */
  entityId?: string;
  /** The SingleLogoutService Location. Default: the SSO URL (as Entra publishes it). */
  sloUrl?: string;
  /** Its ResponseLocation (where LogoutResponses go). Default: none. */
  sloResponseUrl?: string | null;
}

export interface ConnectionForOptions {
  baseUrl: string;
  slug?: string;
  /** Certificates listed in the IdP descriptor. Default ['idp-signing-1']. */
  certs?: TestKeyName[];
  settings?: Partial<Omit<ConnectionSettings, 'jit'>> & { jit?: Partial<JitSettings> };
  id?: string;
  tenantId?: string;
  version?: number;
  spEntityId?: string;
  name?: string;
}

export class TestIdp {
  readonly tenantId: string;
  readonly entityId: string;
  readonly ssoUrl: string;
  readonly sloUrl: string;
  readonly sloResponseUrl: string | null;

  constructor(options: TestIdpOptions = {}) {
    this.tenantId = options.tenantId ?? '72f988bf-86f1-41af-91ab-2d7cd011db47';
    this.entityId = options.entityId ?? `https://sts.windows.net/${this.tenantId}/`;
    this.ssoUrl = `https://login.microsoftonline.test/${this.tenantId}/saml2`;
    this.sloUrl = options.sloUrl ?? this.ssoUrl;
    this.sloResponseUrl = options.sloResponseUrl ?? null;
  }

  /** The IdP descriptor Gatehouse would hold after importing this IdP's metadata. */
  descriptor(certs: TestKeyName[] = ['idp-signing-1']): IdpDescriptor {
    return {
      entityId: this.entityId,
      ssoRedirectUrl: this.ssoUrl,
      ssoPostUrl: this.ssoUrl,
      sloUrl: this.sloUrl,
      sloResponseUrl: this.sloResponseUrl,
      sloBinding: 'redirect',
      nameIdFormats: [],
      certs: certs.map(idpCertificate),
      metadataSigned: false,
      source: { kind: 'xml' },
      importedAt: new Date(),
    };
  }

  /**
   * A Connection for this IdP, as the store would return it. Settings default to: matchBy 'upn', IdP-initiated
   * allowed, response signature not required, AuthnRequests not signed, no SHA-1, JIT on with update on login.
   */
  connectionFor(options: ConnectionForOptions): Connection {
    const slug = options.slug ?? 'contoso';
    const now = new Date();
    const { jit, ...rest } = options.settings ?? {};
    return {
      id: options.id ?? `conn-${randomUUID()}`,
      tenantId: options.tenantId ?? `tenant-${randomUUID()}`,
      slug,
      name: options.name ?? 'Contoso (Entra ID)',
      spEntityId: options.spEntityId ?? defaultSpEntityId(options.baseUrl, slug),
      idp: this.descriptor(options.certs ?? ['idp-signing-1']),
      settings: {
        matchBy: 'upn',
        allowIdpInitiated: true,
        wantAuthnResponseSigned: false,
        signAuthnRequests: false,
        allowSha1: false,
        ...rest,
        jit: {
          enabled: true,
          updateOnLogin: true,
          groupsClaim: null,
          membershipMode: 'sync',
          requireAnyGroup: [],
          onlyGroups: [],
          excludeGroups: [],
          ...jit,
        },
      },
      version: options.version ?? 1,
      createdAt: now,
      updatedAt: now,
    };
  }

  /** The Entra claims for a user (claim URI -> values). Like Entra, no groups claim for a user in no group. */
  claimsFor(user: TestUser): Record<string, string[]> {
    return {
      [ENTRA_CLAIM.tenantId]: [this.tenantId],
      [ENTRA_CLAIM.objectId]: [user.objectId],
      [ENTRA_CLAIM.displayName]: [user.displayName],
      ...(user.groups.length > 0 ? { [ENTRA_CLAIM.groups]: [...user.groups] } : {}),
      [ENTRA_CLAIM.identityProvider]: [this.entityId],
      [ENTRA_CLAIM.authnMethodsReferences]: ['http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password'],
      [ENTRA_CLAIM.givenName]: [user.givenName],
      [ENTRA_CLAIM.surname]: [user.surname],
      [ENTRA_CLAIM.email]: [user.email],
      [ENTRA_CLAIM.name]: [user.upn],
    };
  }

  /**
   * Builds, signs and (optionally) tampers a Response.
   *
   * The XML is written directly in exclusive-canonical form (sorted attributes, expanded empty elements, canonical
   * escaping), so the default 'fast' signer can digest and sign the very bytes it emits without parsing anything:
   * a few RSA operations per response, which the ACS benchmark needs. `signer: 'xml-crypto'` signs the same
   * document through xml-crypto instead (same digests and signature values, tested); raw `extra*Xml` goes that way,
   * since arbitrary raw XML is not guaranteed to be canonical.
   */
  buildResponse(sp: SpTarget, options: ResponseOptions = {}): BuiltResponse {
    const now = options.now ?? new Date();
    const at = (offsetMs: number) => new Date(now.getTime() + offsetMs);
    const user: TestUser = { ...DEFAULT_USER, groups: [...DEFAULT_USER.groups], ...options.user };
    const responseId = options.responseId ?? newSamlId();
    const assertionId = options.assertionId ?? newSamlId();
    const issueInstant = samlInstant(options.issueInstant ?? now);
    const statusCode = options.statusCode ?? STATUS.success;
    const omitAssertion = options.omitAssertion ?? statusCode !== STATUS.success;
    const inResponseTo = options.inResponseTo ?? null;
    const subjectInResponseTo = options.subjectInResponseTo !== undefined ? options.subjectInResponseTo : inResponseTo;

    /** ` name="value"` in canonical form, or nothing for null/undefined. Callers list attributes in sorted order. */
    const attr = (name: string, value: string | null | undefined) =>
      value === null || value === undefined ? '' : ` ${name}="${c14nAttribute(value)}"`;
    const instant = (value: Date | null | undefined, fallback: Date): string | null =>
      value === null ? null : samlInstant(value ?? fallback);

    const destination = options.destination !== undefined ? options.destination : sp.acsUrl;
    const recipient = options.recipient !== undefined ? options.recipient : sp.acsUrl;
    const responseIssuer = options.responseIssuer !== undefined ? options.responseIssuer : this.entityId;
    const assertionIssuer = options.assertionIssuer ?? this.entityId;
    const audiences =
      options.audience === null ? null : typeof options.audience === 'string' ? [options.audience] : (options.audience ?? [sp.entityId]);
    const nameIdFormat = options.nameIdFormat !== undefined ? options.nameIdFormat : NAMEID_FORMAT.email;
    const attributes = { ...(options.attributes ?? this.claimsFor(user)), ...options.extraAttributes };

    const status =
      `<samlp:Status><samlp:StatusCode${attr('Value', statusCode)}>` +
      (options.subStatusCode ? `<samlp:StatusCode${attr('Value', options.subStatusCode)}></samlp:StatusCode>` : '') +
      `</samlp:StatusCode>` +
      (options.statusMessage ? `<samlp:StatusMessage>${c14nText(options.statusMessage)}</samlp:StatusMessage>` : '') +
      `</samlp:Status>`;

    const attributeXml = Object.entries(attributes)
      .map(
        ([name, values]) =>
          `<Attribute${attr('Name', name)}>` + values.map((v) => `<AttributeValue>${c14nText(v)}</AttributeValue>`).join('') + `</Attribute>`,
      )
      .join('');

    // The assertion in three parts, so a signature can go right after its Issuer (where the SAML schema puts it).
    const assertionHead =
      `<Assertion xmlns="${SAML_NS.assertion}"${attr('ID', assertionId)}${attr('IssueInstant', issueInstant)} Version="2.0">` +
      `<Issuer>${c14nText(assertionIssuer)}</Issuer>`;
    const assertionBody =
      `<Subject>` +
      `<NameID${attr('Format', nameIdFormat)}>${c14nText(options.nameId ?? user.upn)}</NameID>` +
      `<SubjectConfirmation${attr('Method', options.confirmationMethod ?? 'urn:oasis:names:tc:SAML:2.0:cm:bearer')}>` +
      `<SubjectConfirmationData${attr('InResponseTo', subjectInResponseTo)}` +
      `${attr('NotOnOrAfter', instant(options.subjectNotOnOrAfter, at(5 * 60_000)))}` +
      `${attr('Recipient', recipient)}></SubjectConfirmationData>` +
      `</SubjectConfirmation>` +
      `</Subject>` +
      `<Conditions${attr('NotBefore', instant(options.notBefore, at(-5 * 60_000)))}` +
      `${attr('NotOnOrAfter', instant(options.notOnOrAfter, at(60 * 60_000)))}>` +
      (audiences === null
        ? ''
        : `<AudienceRestriction>${audiences.map((a) => `<Audience>${c14nText(a)}</Audience>`).join('')}</AudienceRestriction>`) +
      `</Conditions>` +
      (attributeXml ? `<AttributeStatement>${attributeXml}</AttributeStatement>` : '') +
      `<AuthnStatement${attr('AuthnInstant', samlInstant(options.authnInstant ?? now))}${attr('SessionIndex', options.sessionIndex ?? assertionId)}>` +
      `<AuthnContext><AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</AuthnContextClassRef></AuthnContext>` +
      `</AuthnStatement>` +
      (options.extraAssertionXml ?? '') +
      `</Assertion>`;

    const responseHead =
      `<samlp:Response xmlns:samlp="${SAML_NS.protocol}"${attr('Destination', destination)}${attr('ID', responseId)}` +
      `${attr('InResponseTo', inResponseTo)}${attr('IssueInstant', issueInstant)} Version="2.0">` +
      (responseIssuer === null ? '' : `<Issuer xmlns="${SAML_NS.assertion}">${c14nText(responseIssuer)}</Issuer>`);
    const responseTail = (options.extraResponseXml ?? '') + `</samlp:Response>`;

    const mode = options.sign ?? 'assertion';
    const signer: SignerOptions = {
      key: options.key ?? 'idp-signing-1',
      signatureAlgorithm: options.signatureAlgorithm ?? 'sha256',
      digestAlgorithm: options.digestAlgorithm ?? options.signatureAlgorithm ?? 'sha256',
      includeKeyInfo: options.includeKeyInfo ?? true,
    };
    const signAssertion = (mode === 'assertion' || mode === 'both') && !omitAssertion;
    const signResponse = mode === 'response' || mode === 'both';
    const useXmlCrypto = options.signer === 'xml-crypto' || options.extraAssertionXml !== undefined || options.extraResponseXml !== undefined;

    let xml: string;
    if (!useXmlCrypto) {
      // The assertion first: a response signature must cover the assertion's signature, not the other way round.
      const assertion = omitAssertion
        ? ''
        : signAssertion
          ? assertionHead + canonicalSignature(assertionHead + assertionBody, assertionId, signer) + assertionBody
          : assertionHead + assertionBody;
      const content = status + assertion + responseTail;
      xml = signResponse ? responseHead + canonicalSignature(responseHead + content, responseId, signer) + content : responseHead + content;
    } else {
      xml = responseHead + status + (omitAssertion ? '' : assertionHead + assertionBody) + responseTail;
      if (signAssertion) xml = signElement(xml, assertionId, signer);
      if (signResponse) xml = signElement(xml, responseId, { ...signer, placement: responseIssuer === null ? 'first-child' : 'after-issuer' });
    }

    const domHooks = toArray(options.tamper);
    if (domHooks.length > 0) {
      const doc = parseXml(xml);
      for (const hook of domHooks) hook(doc);
      xml = serializeXml(doc);
    }
    for (const hook of toArray(options.tamperXml)) xml = hook(xml);
    if (options.prolog) xml = options.prolog + xml;

    return { xml, samlResponse: base64(xml), responseId, assertionId };
  }

  /** The form body the browser would POST to the ACS. */
  postBody(sp: SpTarget, options: ResponseOptions & { relayState?: string } = {}): PostBody {
    const { samlResponse } = this.buildResponse(sp, options);
    return options.relayState === undefined ? { SAMLResponse: samlResponse } : { SAMLResponse: samlResponse, RelayState: options.relayState };
  }

  // ---- single logout ----------------------------------------------------------------------------------------

  /**
   * A LogoutRequest from this IdP to the SP's SingleLogoutService (unsigned XML: sign it with redirectQuery or
   * postForm). Defaults: valid for the default user, NotOnOrAfter in 5 minutes, a SessionIndex.
   */
  buildLogoutRequest(sloUrl: string, options: LogoutRequestOptions = {}): { xml: string; id: string } {
    const now = options.now ?? new Date();
    const id = options.id ?? newSamlId();
    const attr = (name: string, value: string | null | undefined) => (value === null || value === undefined ? '' : ` ${name}="${c14nAttribute(value)}"`);
    const destination = options.destination !== undefined ? options.destination : sloUrl;
    const issuer = options.issuer !== undefined ? options.issuer : this.entityId;
    const notOnOrAfter = options.notOnOrAfter !== undefined ? options.notOnOrAfter : new Date(now.getTime() + 5 * 60_000);
    const nameIdFormat = options.nameIdFormat !== undefined ? options.nameIdFormat : NAMEID_FORMAT.email;
    const sessionIndex = options.sessionIndex !== undefined ? options.sessionIndex : newSamlId();
    const xml =
      `<samlp:LogoutRequest xmlns:samlp="${SAML_NS.protocol}" xmlns:saml="${SAML_NS.assertion}"${attr('Destination', destination)}${attr('ID', id)}` +
      `${attr('IssueInstant', samlInstant(options.issueInstant ?? now))}${attr('NotOnOrAfter', notOnOrAfter === null ? null : samlInstant(notOnOrAfter))} Version="2.0">` +
      (issuer === null ? '' : `<saml:Issuer>${c14nText(issuer)}</saml:Issuer>`) +
      `<saml:NameID${attr('Format', nameIdFormat)}>${c14nText(options.nameId ?? DEFAULT_USER.upn)}</saml:NameID>` +
      (sessionIndex === null ? '' : `<samlp:SessionIndex>${c14nText(sessionIndex)}</samlp:SessionIndex>`) +
      `</samlp:LogoutRequest>`;
    return { xml: (options.prolog ?? '') + xml, id };
  }

  /** A LogoutResponse from this IdP answering the SP's LogoutRequest `inResponseTo` (unsigned XML). */
  buildLogoutResponse(sloUrl: string, options: LogoutResponseOptions = {}): { xml: string; id: string } {
    const now = options.now ?? new Date();
    const id = options.id ?? newSamlId();
    const attr = (name: string, value: string | null | undefined) => (value === null || value === undefined ? '' : ` ${name}="${c14nAttribute(value)}"`);
    const destination = options.destination !== undefined ? options.destination : sloUrl;
    const issuer = options.issuer !== undefined ? options.issuer : this.entityId;
    const xml =
      `<samlp:LogoutResponse xmlns:samlp="${SAML_NS.protocol}" xmlns:saml="${SAML_NS.assertion}"${attr('Destination', destination)}${attr('ID', id)}` +
      `${attr('InResponseTo', options.inResponseTo)}${attr('IssueInstant', samlInstant(options.issueInstant ?? now))} Version="2.0">` +
      (issuer === null ? '' : `<saml:Issuer>${c14nText(issuer)}</saml:Issuer>`) +
      `<samlp:Status><samlp:StatusCode${attr('Value', options.statusCode ?? STATUS.success)}></samlp:StatusCode></samlp:Status>` +
      `</samlp:LogoutResponse>`;
    return { xml: (options.prolog ?? '') + xml, id };
  }

  /**
   * The HTTP-Redirect binding (SAML bindings 3.4.4.1): the message deflated and base64-encoded, and the query
   * `SAMLRequest|SAMLResponse=...&RelayState=...&SigAlg=...` signed with the key; returns the query (no '?').
   * `tamper` changes the query after signing.
   */
  redirectQuery(field: 'SAMLRequest' | 'SAMLResponse', xml: string, options: RedirectSigningOptions = {}): string {
    // Every reserved character percent-encoded, so no HTTP client or browser re-encodes the signed bytes.
    const encode = (value: string) => encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    const parts = [`${field}=${encode(deflateRawSync(Buffer.from(xml, 'utf8')).toString('base64'))}`];
    if (options.relayState !== undefined) parts.push(`RelayState=${encode(options.relayState)}`);
    if (options.sign === false) return parts.join('&');
    const hash = options.signatureAlgorithm ?? 'sha256';
    parts.push(`SigAlg=${encode(ALGORITHMS[hash].signature)}`);
    const signature = signBytes(hash, Buffer.from(parts.join('&'), 'utf8'), loadKey(options.key ?? 'idp-signing-1').privateKey).toString('base64');
    const query = `${parts.join('&')}&Signature=${encode(signature)}`;
    return options.tamper ? options.tamper(query) : query;
  }

  /** The HTTP-POST binding: the message with an enveloped signature (after its Issuer), as form fields. */
  postForm(field: 'SAMLRequest' | 'SAMLResponse', built: { xml: string; id: string }, options: Omit<RedirectSigningOptions, 'tamper'> = {}): Record<string, string> {
    const hash = options.signatureAlgorithm ?? 'sha256';
    const xml =
      options.sign === false
        ? built.xml
        : signElement(built.xml, built.id, { key: options.key ?? 'idp-signing-1', signatureAlgorithm: hash, digestAlgorithm: hash, includeKeyInfo: true });
    return { [field]: base64(xml), ...(options.relayState !== undefined ? { RelayState: options.relayState } : {}) };
  }

  /**
   * Entra-shaped federation metadata: an EntityDescriptor with a WS-Federation RoleDescriptor (ignored by SAML
   * parsers, present in real Entra metadata) and an IDPSSODescriptor listing one signing KeyDescriptor per cert.
   * `sign` adds an enveloped signature over the EntityDescriptor (Entra signs its metadata).
   */
  metadataXml(options: { certs?: TestKeyName[]; sign?: boolean; signingKey?: TestKeyName; singleLogout?: boolean } = {}): string {
    const certs = options.certs ?? ['idp-signing-1'];
    const id = newSamlId();
    const keyDescriptors = certs
      .map(
        (c) =>
          `<KeyDescriptor use="signing"><KeyInfo xmlns="${SAML_NS.dsig}"><X509Data><X509Certificate>${certBase64(c)}</X509Certificate></X509Data></KeyInfo></KeyDescriptor>`,
      )
      .join('');
    let xml =
      `<?xml version="1.0" encoding="utf-8"?>` +
      `<EntityDescriptor ID="${id}" entityID="${escapeXml(this.entityId)}" xmlns="${SAML_NS.metadata}">` +
      `<RoleDescriptor xsi:type="fed:SecurityTokenServiceType" protocolSupportEnumeration="http://docs.oasis-open.org/wsfed/federation/200706" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:fed="http://docs.oasis-open.org/wsfed/federation/200706">` +
      keyDescriptors +
      `<fed:PassiveRequestorEndpoint><EndpointReference xmlns="http://www.w3.org/2005/08/addressing"><Address>https://login.microsoftonline.test/${this.tenantId}/wsfed</Address></EndpointReference></fed:PassiveRequestorEndpoint>` +
      `</RoleDescriptor>` +
      `<IDPSSODescriptor protocolSupportEnumeration="${SAML_NS.protocol}">` +
      keyDescriptors +
      (options.singleLogout === false
        ? ''
        : `<SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${escapeXml(this.sloUrl)}"` +
          (this.sloResponseUrl ? ` ResponseLocation="${escapeXml(this.sloResponseUrl)}"` : '') +
          `/>`) +
      `<SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${escapeXml(this.ssoUrl)}"/>` +
      `<SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${escapeXml(this.ssoUrl)}"/>` +
      `</IDPSSODescriptor>` +
      `</EntityDescriptor>`;
    if (options.sign) {
      xml = signElement(xml, id, {
        key: options.signingKey ?? certs[0] ?? 'idp-signing-1',
        signatureAlgorithm: 'sha256',
        digestAlgorithm: 'sha256',
        includeKeyInfo: true,
        // Metadata schema: ds:Signature is the first child of EntityDescriptor.
        placement: 'first-child',
      });
    }
    return xml;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Signing
// ---------------------------------------------------------------------------------------------------------------

export interface SignerOptions {
  key: TestKeyName;
  signatureAlgorithm: HashName;
  digestAlgorithm: HashName;
  includeKeyInfo: boolean;
  /** Default 'after-issuer' (the place the SAML schema requires); metadata uses 'first-child'. */
  placement?: 'after-issuer' | 'first-child';
}

/**
 * Adds an enveloped signature (exclusive c14n) over the element with this ID, the way Entra does: the Signature
 * goes right after the element's Issuer, and KeyInfo carries the certificate.
 */
export function signElement(xml: string, id: string, options: SignerOptions): string {
  const { privateKey } = loadKey(options.key);
  const certB64 = certBase64(options.key);
  const sig = new SignedXml({
    privateKey,
    signatureAlgorithm: ALGORITHMS[options.signatureAlgorithm].signature,
    canonicalizationAlgorithm: EXC_C14N,
    getKeyInfoContent: options.includeKeyInfo
      ? ({ prefix } = {}) => {
          const p = prefix ? `${prefix}:` : '';
          return `<${p}X509Data><${p}X509Certificate>${certB64}</${p}X509Certificate></${p}X509Data>`;
        }
      : () => null,
  });
  const target = `//*[@ID='${id}']`;
  sig.addReference({
    xpath: target,
    transforms: [ENVELOPED, EXC_C14N],
    digestAlgorithm: ALGORITHMS[options.digestAlgorithm].digest,
  });
  const location =
    options.placement === 'first-child'
      ? { reference: target, action: 'prepend' as const }
      : { reference: `${target}/*[local-name(.)='Issuer']`, action: 'after' as const };
  sig.computeSignature(xml, { location });
  return sig.getSignedXml();
}

/** Text content escaped as exclusive canonicalization writes it. */
export function c14nText(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#xD;');
}

/** An attribute value escaped as exclusive canonicalization writes it. */
export function c14nAttribute(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/"/g, '&quot;')
    .replace(/\t/g, '&#x9;')
    .replace(/\n/g, '&#xA;')
    .replace(/\r/g, '&#xD;');
}

/**
 * An enveloped ds:Signature over an element given in exclusive-canonical form *without* its signature (which is
 * exactly what the enveloped-signature + exc-c14n transforms reproduce on the verifying side). Returns the
 * Signature element, itself canonical, to insert after the element's Issuer.
 */
function canonicalSignature(canonicalElement: string, id: string, options: SignerOptions): string {
  const { privateKey } = loadKey(options.key);
  const digest = createHash(options.digestAlgorithm).update(canonicalElement, 'utf8').digest('base64');
  const signedInfo =
    `<SignedInfo><CanonicalizationMethod Algorithm="${EXC_C14N}"></CanonicalizationMethod>` +
    `<SignatureMethod Algorithm="${ALGORITHMS[options.signatureAlgorithm].signature}"></SignatureMethod>` +
    `<Reference URI="#${c14nAttribute(id)}"><Transforms><Transform Algorithm="${ENVELOPED}"></Transform>` +
    `<Transform Algorithm="${EXC_C14N}"></Transform></Transforms>` +
    `<DigestMethod Algorithm="${ALGORITHMS[options.digestAlgorithm].digest}"></DigestMethod>` +
    `<DigestValue>${digest}</DigestValue></Reference></SignedInfo>`;
  // Canonicalized on its own, SignedInfo is the apex and carries the (inherited) default namespace declaration.
  const canonicalSignedInfo = `<SignedInfo xmlns="${SAML_NS.dsig}">${signedInfo.slice('<SignedInfo>'.length)}`;
  const signatureValue = signBytes(options.signatureAlgorithm, Buffer.from(canonicalSignedInfo, 'utf8'), privateKey).toString('base64');
  const keyInfo = options.includeKeyInfo
    ? `<KeyInfo><X509Data><X509Certificate>${certBase64(options.key)}</X509Certificate></X509Data></KeyInfo>`
    : '';
  return `<Signature xmlns="${SAML_NS.dsig}">${signedInfo}<SignatureValue>${signatureValue}</SignatureValue>${keyInfo}</Signature>`;
}

function toArray<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** A random request id in node-saml's format, for tests that need one the SP never issued. */
export function randomRequestId(): string {
  return `_${randomBytes(20).toString('hex')}`;
}

/** The AuthnRequest XML in an HTTP-Redirect Location (SAMLRequest, deflated). */
export function authnRequestOf(location: string): string {
  return inflateRawSync(Buffer.from(new URL(location).searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
}

/** The ID of the AuthnRequest in an HTTP-Redirect Location (SAMLRequest, deflated). */
export function authnRequestIdOf(location: string): string {
  return /\sID="([^"]+)"/.exec(authnRequestOf(location))![1]!;
}

// ---------------------------------------------------------------------------------------------------------------
// Single logout
// ---------------------------------------------------------------------------------------------------------------

export interface LogoutMessageOptions {
  now?: Date;
  id?: string;
  issueInstant?: Date;
  /** Destination. Default: the SP's SLO URL. null omits it. */
  destination?: string | null;
  /** Issuer. Default: the IdP entity ID. null omits it. */
  issuer?: string | null;
  /** Raw XML placed before the root element (e.g. a DOCTYPE). */
  prolog?: string;
}

export interface LogoutRequestOptions extends LogoutMessageOptions {
  /** Default: the default user's UPN. */
  nameId?: string;
  /** Default emailAddress (Entra's). null omits it. */
  nameIdFormat?: string | null;
  /** Default a fresh id. null omits it. */
  sessionIndex?: string | null;
  /** Default now + 5 minutes. null omits it. */
  notOnOrAfter?: Date | null;
}

export interface LogoutResponseOptions extends LogoutMessageOptions {
  inResponseTo?: string | null;
  /** Default Success. */
  statusCode?: string;
}

export interface RedirectSigningOptions {
  relayState?: string;
  /** Default true. */
  sign?: boolean;
  /** Default 'idp-signing-1'. */
  key?: TestKeyName;
  /** Default sha256. */
  signatureAlgorithm?: HashName;
  tamper?: (query: string) => string;
}

/** A single logout message Gatehouse sent the browser to the IdP with (HTTP-Redirect), as the IdP reads it. */
export interface ReceivedRedirect {
  /** The URL without its query. */
  endpoint: string;
  field: 'SAMLRequest' | 'SAMLResponse';
  xml: string;
  doc: Document;
  relayState: string | null;
  sigAlg: string | null;
  /** Whether Signature verifies, over the raw received tokens, against `signerCertPem`. */
  signatureValid: boolean;
}

/** Reads and verifies an HTTP-Redirect binding URL the way a strict IdP does (raw tokens, fixed order). */
export function readRedirect(location: string, signerCertPem: string): ReceivedRedirect {
  const url = new URL(location);
  const raw = new Map<string, string>();
  for (const token of url.search.replace(/^\?/, '').split('&')) {
    const eq = token.indexOf('=');
    if (eq > 0) raw.set(token.slice(0, eq), token);
  }
  const field = raw.has('SAMLRequest') ? 'SAMLRequest' : 'SAMLResponse';
  const value = (name: string) => {
    const token = raw.get(name);
    return token === undefined ? null : decodeURIComponent(token.slice(name.length + 1).replace(/\+/g, ' '));
  };
  const xml = inflateRawSync(Buffer.from(value(field) ?? '', 'base64')).toString('utf8');
  const signed = [raw.get(field), raw.get('RelayState'), raw.get('SigAlg')].filter((t) => t !== undefined).join('&');
  const signature = value('Signature');
  const sigAlg = value('SigAlg');
  const hash = sigAlg === ALGORITHMS.sha512.signature ? 'sha512' : sigAlg === ALGORITHMS.sha1.signature ? 'sha1' : 'sha256';
  const signatureValid =
    signature !== null && sigAlg !== null && verifyBytes(hash, Buffer.from(signed, 'utf8'), signerCertPem, Buffer.from(signature, 'base64'));
  return { endpoint: `${url.origin}${url.pathname}`, field, xml, doc: parseXml(xml), relayState: value('RelayState'), sigAlg, signatureValid };
}
