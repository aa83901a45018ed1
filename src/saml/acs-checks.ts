/**
 * The cheap pre-flight of the ACS pipeline (design.md section 4): everything that can be decided from the raw POST
 * before node-saml spends time on signatures. These checks only ever refuse; nothing here decides who signs in
 * (identity comes from node-saml's validated profile, section 4.7), so reading the unsigned document is safe.
 *
 * Element matching follows node-saml: it finds Response/Assertion by local name whatever the namespace, and reads
 * the assertion through xml2js with prefixes stripped. Counting by local name here means an `<x:Assertion>` in some
 * other namespace cannot hide from our "exactly one assertion" rule while node-saml still sees it.
 */
import { NS, parseXmlStrict, XmlParseError } from './xml';
import { SamlRefusal } from './refusal';

export const STATUS_SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';
export const BEARER_METHOD = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';

/** Signature and digest algorithms by strength. SHA-1 is only accepted when a connection opts in. */
const STRONG_SIGNATURE_METHODS = new Set([
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
]);
const SHA1_SIGNATURE_METHODS = new Set(['http://www.w3.org/2000/09/xmldsig#rsa-sha1']);
const STRONG_DIGEST_METHODS = new Set(['http://www.w3.org/2001/04/xmlenc#sha256', 'http://www.w3.org/2001/04/xmlenc#sha512']);
const SHA1_DIGEST_METHODS = new Set(['http://www.w3.org/2000/09/xmldsig#sha1']);

const ELEMENT_NODE = 1;
const COMMENT_NODE = 8;

/** What the checks compare the response against. */
export interface AcsExpectations {
  idpEntityId: string;
  acsUrl: string;
  wantAuthnResponseSigned: boolean;
  allowSha1: boolean;
  clockSkewMs: number;
  /** Milliseconds since the epoch. */
  nowMs: number;
}

/** What the pre-flight learned, for cross-checks after node-saml. */
export interface PreflightResult {
  /** Canonical base64 (whitespace removed): what node-saml is given, so both read the same bytes. */
  samlResponse: string;
  /** ID of the single Assertion in the raw document. */
  assertionId: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Transport: body, size, base64
// ---------------------------------------------------------------------------------------------------------------

/** The SAMLResponse field of a form body, or refuses. Arrays (a repeated field) are refused, not joined. */
export function samlResponseField(body: unknown): string {
  if (typeof body !== 'object' || body === null) throw new SamlRefusal('missing_response');
  const value: unknown = (body as Record<string, unknown>).SAMLResponse;
  if (typeof value !== 'string' || value.trim() === '') throw new SamlRefusal('missing_response');
  return value;
}

/**
 * Strict base64. Whitespace is removed first (IdPs may wrap lines); what remains must re-encode to exactly itself.
 * Node's decoder silently skips foreign characters and accepts URL-safe letters, missing padding and non-zero
 * padding bits; the round trip refuses all of those at once, since the encoder only ever emits canonical base64.
 * Returns the canonical base64 and the decoded bytes.
 */
export function decodeStrictBase64(value: string): { canonical: string; bytes: Buffer } {
  const canonical = value.replace(/[ \t\r\n]+/g, '');
  const bytes = Buffer.from(canonical, 'base64');
  if (canonical.length === 0 || bytes.toString('base64') !== canonical) throw new SamlRefusal('not_base64');
  return { canonical, bytes };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes the SAMLResponse bytes as UTF-8 (refusing invalid sequences rather than replacing them) and parses it. */
export function parseResponseDocument(bytes: Buffer): Document {
  let xml: string;
  try {
    xml = utf8.decode(bytes);
  } catch {
    throw new SamlRefusal('not_xml', 'not valid UTF-8');
  }
  try {
    return parseXmlStrict(xml, 'The SAMLResponse');
  } catch (error) {
    if (error instanceof XmlParseError) throw new SamlRefusal(error.code, error.message);
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Document checks
// ---------------------------------------------------------------------------------------------------------------

export function childElements(parent: Element): Element[] {
  const out: Element[] = [];
  for (let node = parent.firstChild; node; node = node.nextSibling) {
    if (node.nodeType === ELEMENT_NODE) out.push(node as Element);
  }
  return out;
}

export function childrenNamed(parent: Element, localName: string): Element[] {
  return childElements(parent).filter((el) => el.localName === localName);
}

export function isDsig(el: Element, localName: string): boolean {
  return el.localName === localName && el.namespaceURI === NS.ds;
}

/** One walk over the document collects everything the structural checks need. */
export interface DocumentSurvey {
  assertions: Element[];
  encryptedAssertions: number;
  signatureMethods: string[];
  digestMethods: string[];
  duplicateId: string | null;
  hasComment: boolean;
}

export function survey(root: Element): DocumentSurvey {
  const result: DocumentSurvey = {
    assertions: [],
    encryptedAssertions: 0,
    signatureMethods: [],
    digestMethods: [],
    duplicateId: null,
    hasComment: false,
  };
  const ids = new Set<string>();
  const stack: Node[] = [root];
  while (stack.length > 0) {
    const node = stack.pop() as Node;
    if (node.nodeType === COMMENT_NODE) {
      result.hasComment = true;
      continue;
    }
    if (node.nodeType !== ELEMENT_NODE) continue;
    const el = node as Element;
    if (el.localName === 'Assertion') result.assertions.push(el);
    else if (el.localName === 'EncryptedAssertion') result.encryptedAssertions += 1;
    else if (isDsig(el, 'SignatureMethod')) result.signatureMethods.push(el.getAttribute('Algorithm') ?? '');
    else if (isDsig(el, 'DigestMethod')) result.digestMethods.push(el.getAttribute('Algorithm') ?? '');
    // xml-crypto resolves references by ID, Id or id: any repeated value is a wrapping attempt or a broken document.
    for (let i = 0; i < el.attributes.length; i += 1) {
      const attribute = el.attributes.item(i);
      if (!attribute || !(attribute.localName === 'ID' || attribute.localName === 'Id' || attribute.localName === 'id')) continue;
      if (ids.has(attribute.value)) result.duplicateId ??= attribute.value;
      ids.add(attribute.value);
    }
    for (let child = el.lastChild; child; child = child.previousSibling) stack.push(child);
  }
  return result;
}

export function statusCodes(status: Element): string[] {
  const codes: string[] = [];
  let level: Element | undefined = childrenNamed(status, 'StatusCode')[0];
  while (level) {
    codes.push(level.getAttribute('Value') ?? '');
    level = childrenNamed(level, 'StatusCode')[0];
  }
  return codes;
}

export function parseInstant(value: string, what: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new SamlRefusal('malformed_response', `${what} is not a valid date`);
  return ms;
}

/**
 * The message-age rule for an IssueInstant (an assertion's, a logout message's): refused once older than `maxAgeMs`,
 * or when issued in the future, each beyond the allowed clock skew.
 */
export function checkIssueInstant(issueInstantMs: number, window: { nowMs: number; clockSkewMs: number; maxAgeMs: number }, what: string): void {
  if (window.nowMs - window.clockSkewMs >= issueInstantMs + window.maxAgeMs) throw new SamlRefusal('expired', `${what} too old`);
  if (window.nowMs + window.clockSkewMs < issueInstantMs) throw new SamlRefusal('not_yet_valid', `${what} issued in the future`);
}

/**
 * Checks the parsed Response (design.md 4.1, 4.2, 4.3, 4.5 and signature presence), in the order the refusal codes
 * are documented. Returns what later stages cross-check.
 */
export function checkResponseDocument(doc: Document, expect: AcsExpectations): Omit<PreflightResult, 'samlResponse'> {
  const response = doc.documentElement;
  if (!response || response.localName !== 'Response' || response.namespaceURI !== NS.samlp) {
    throw new SamlRefusal('malformed_response', 'the root element is not samlp:Response');
  }

  const status = childrenNamed(response, 'Status')[0];
  if (!status) throw new SamlRefusal('malformed_response', 'no Status');
  const codes = statusCodes(status);
  if (codes[0] !== STATUS_SUCCESS) {
    const message = childrenNamed(status, 'StatusMessage')[0]?.textContent?.trim();
    const detail = `StatusCode ${codes.join(' / ') || '(none)'}${message ? `; StatusMessage: ${message.slice(0, 300)}` : ''}`;
    throw new SamlRefusal('status_not_success', detail);
  }

  const facts = survey(response);
  if (facts.encryptedAssertions > 0) throw new SamlRefusal('encrypted_assertion_unsupported');
  if (facts.assertions.length > 1) {
    throw new SamlRefusal('multiple_assertions', `${facts.assertions.length} Assertion elements in the document`);
  }
  const assertion = facts.assertions[0];
  if (!assertion) throw new SamlRefusal('malformed_response', 'no Assertion');
  if (assertion.parentNode !== response) {
    throw new SamlRefusal('multiple_assertions', 'the Assertion is not a direct child of the Response');
  }
  if (facts.duplicateId !== null) throw new SamlRefusal('malformed_response', 'an ID value appears on more than one element');
  // Comments inside signed content are invisible to the signature (exclusive c14n drops them) but not to every
  // parser: the classic "NameID comment truncation" attack. No IdP needs them, so they are refused outright.
  if (facts.hasComment) throw new SamlRefusal('malformed_response', 'XML comments inside the Response');
  const assertionId = assertion.getAttribute('ID') ?? '';
  if (assertionId === '') throw new SamlRefusal('malformed_response', 'the Assertion has no ID');

  // 4.1: both issuers name the configured IdP. textContent ignores comments, like the canonical form does.
  const responseIssuer = childrenNamed(response, 'Issuer')[0];
  if (responseIssuer && responseIssuer.textContent !== expect.idpEntityId) {
    throw new SamlRefusal('unknown_issuer', 'Response Issuer differs from the IdP entity ID');
  }
  const assertionIssuer = childrenNamed(assertion, 'Issuer')[0];
  if (!assertionIssuer || assertionIssuer.textContent !== expect.idpEntityId) {
    throw new SamlRefusal('unknown_issuer', 'Assertion Issuer differs from the IdP entity ID');
  }

  // 4.2: Destination (when present) and every bearer Recipient are this ACS; no bearer confirmation has expired.
  const destination = response.getAttribute('Destination');
  if (response.hasAttribute('Destination') && destination !== expect.acsUrl) {
    throw new SamlRefusal('destination_mismatch');
  }
  checkBearerConfirmations(assertion, expect);

  // 4.5: algorithms of every signature in the document, whoever's it claims to be.
  checkSignatureAlgorithms(facts, expect.allowSha1);

  // Signature presence: the element the connection requires signed carries an enveloped ds:Signature.
  const signedElement = expect.wantAuthnResponseSigned ? response : assertion;
  const signatures = childElements(signedElement).filter((el) => isDsig(el, 'Signature'));
  if (signatures.length === 0) {
    throw new SamlRefusal('signature_missing', expect.wantAuthnResponseSigned ? 'the Response is not signed' : 'the Assertion is not signed');
  }
  if (signatures.length > 1) throw new SamlRefusal('signature_invalid', 'more than one signature on one element');

  return { assertionId };
}

/** Design 4.5: refuses any SignatureMethod or DigestMethod outside the allow-list (SHA-1 only when allowed). */
export function checkSignatureAlgorithms(facts: Pick<DocumentSurvey, 'signatureMethods' | 'digestMethods'>, allowSha1: boolean): void {
  for (const method of facts.signatureMethods) {
    if (!isAcceptedSignatureMethod(method, allowSha1)) throw new SamlRefusal('weak_algorithm', `SignatureMethod ${method}`);
  }
  for (const method of facts.digestMethods) {
    if (!(STRONG_DIGEST_METHODS.has(method) || (allowSha1 && SHA1_DIGEST_METHODS.has(method)))) {
      throw new SamlRefusal('weak_algorithm', `DigestMethod ${method}`);
    }
  }
}

/** Whether a signature algorithm URI (XML SignatureMethod, or the SigAlg of the HTTP-Redirect binding) is accepted. */
export function isAcceptedSignatureMethod(method: string, allowSha1: boolean): boolean {
  return STRONG_SIGNATURE_METHODS.has(method) || (allowSha1 && SHA1_SIGNATURE_METHODS.has(method));
}

/**
 * Web SSO profile: at least one bearer SubjectConfirmation; each has SubjectConfirmationData with our Recipient and
 * a NotOnOrAfter that has not passed (node-saml checks the time of one confirmation only, and never the Recipient).
 */
function checkBearerConfirmations(assertion: Element, expect: AcsExpectations): void {
  const subject = childrenNamed(assertion, 'Subject')[0];
  const bearer = subject
    ? childrenNamed(subject, 'SubjectConfirmation').filter((c) => c.getAttribute('Method') === BEARER_METHOD)
    : [];
  if (bearer.length === 0) throw new SamlRefusal('malformed_response', 'no bearer SubjectConfirmation');
  for (const confirmation of bearer) {
    const data = childrenNamed(confirmation, 'SubjectConfirmationData')[0];
    if (!data || data.getAttribute('Recipient') !== expect.acsUrl) throw new SamlRefusal('recipient_mismatch');
    const notOnOrAfter = data.getAttribute('NotOnOrAfter');
    if (!notOnOrAfter) throw new SamlRefusal('malformed_response', 'bearer SubjectConfirmationData without NotOnOrAfter');
    if (expect.nowMs - expect.clockSkewMs >= parseInstant(notOnOrAfter, 'SubjectConfirmationData/@NotOnOrAfter')) {
      throw new SamlRefusal('expired', 'the subject confirmation has expired');
    }
    const notBefore = data.getAttribute('NotBefore');
    if (notBefore && expect.nowMs + expect.clockSkewMs < parseInstant(notBefore, 'SubjectConfirmationData/@NotBefore')) {
      throw new SamlRefusal('not_yet_valid', 'the subject confirmation is not valid yet');
    }
  }
}
