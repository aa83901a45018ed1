/**
 * The pre-flight of SAML single logout messages (a LogoutRequest from the IdP, or the LogoutResponse answering ours),
 * in both bindings: HTTP-Redirect (GET, deflated, the query string signed) and HTTP-POST (a form, an enveloped XML
 * signature). Like acs-checks.ts it only ever refuses, and runs before node-saml spends time on signatures.
 *
 * node-saml 5.1.0 checks much less on these messages than on a Response: an HTTP-Redirect message without a
 * Signature passes validateRedirectAsync, the Destination is never compared, the issuer only when `idpIssuer` is set,
 * a POST LogoutResponse gets neither its issuer nor its status checked, and any signature algorithm Node knows is
 * accepted. Everything here closes those gaps; what Gatehouse acts on afterwards still comes from node-saml's
 * validated result, or (HTTP-Redirect) from the deflated message whose bytes the checked query signature covers.
 */
import { inflateRawSync } from 'node:zlib';
import {
  checkIssueInstant,
  checkSignatureAlgorithms,
  childElements,
  childrenNamed,
  decodeStrictBase64,
  isAcceptedSignatureMethod,
  isDsig,
  parseInstant,
  parseResponseDocument,
  STATUS_SUCCESS,
  statusCodes,
  survey,
} from './acs-checks';
import { SamlRefusal } from './refusal';
import { NS } from './xml';

export type LogoutBinding = 'redirect' | 'post';
export type LogoutMessageKind = 'request' | 'response';

/** A logout message as it arrived, before any check of its content. */
export type LogoutInput = { binding: 'redirect'; rawQuery: string } | { binding: 'post'; body: unknown };

/** The transport layer of a logout message, decoded: what node-saml is handed, and the XML the pre-flight reads. */
export interface LogoutTransport {
  binding: LogoutBinding;
  kind: LogoutMessageKind;
  /** Canonical base64 of the message (of the deflated bytes for HTTP-Redirect): what node-saml is given. */
  encoded: string;
  /** RelayState as sent (an opaque value to echo back, or ours coming back); null when absent. */
  relayState: string | null;
  /** HTTP-Redirect only: the signature parameters, and the query to verify them against (the raw, signed tokens). */
  redirect: { sigAlg: string | null; signature: string | null; signedQuery: string } | null;
  /** The decoded message XML. */
  doc: Document;
}

/** What the pre-flight read from the (not yet verified) document, for cross-checks after node-saml. */
export interface LogoutPreflight {
  id: string;
  issueInstantMs: number;
  /** LogoutResponse only. */
  inResponseTo: string | null;
}

export interface LogoutExpectations {
  idpEntityId: string;
  /** Our SingleLogoutService URL: the Destination every logout message must name. */
  sloUrl: string;
  allowSha1: boolean;
  clockSkewMs: number;
  /** How long after its IssueInstant a message is accepted. */
  maxMessageAgeMs: number;
  nowMs: number;
}

const SIGNED_PARAMETERS = ['SAMLRequest', 'SAMLResponse', 'RelayState', 'SigAlg', 'Signature'] as const;
type SignedParameter = (typeof SIGNED_PARAMETERS)[number];

/** RelayState longer than this is dropped rather than echoed (SAML bindings 3.4.3 allows 80 bytes). */
export const MAX_RELAY_STATE = 2048;

// ---------------------------------------------------------------------------------------------------------------
// Transport
// ---------------------------------------------------------------------------------------------------------------

/** Decodes a logout message of either binding, or refuses (size, repeated or missing fields, base64, DEFLATE, XML). */
export function decodeLogoutTransport(input: LogoutInput, maxBytes: number): LogoutTransport {
  return input.binding === 'redirect' ? decodeRedirect(input.rawQuery, maxBytes) : decodePost(input.body, maxBytes);
}

function decodeRedirect(rawQuery: string, maxBytes: number): LogoutTransport {
  // Parsed here from the raw query rather than taken from Express's req.query: the signature covers the raw
  // tokens, so the values checked and the bytes verified must come from the same tokens, and a repeated
  // parameter (which a query parser may turn into an array, or resolve either way) is refused outright.
  const tokens = new Map<SignedParameter, { token: string; value: string }>();
  for (const token of rawQuery.split('&')) {
    if (token === '') continue;
    const eq = token.indexOf('=');
    const name = decodeComponent(eq === -1 ? token : token.slice(0, eq));
    if (!(SIGNED_PARAMETERS as readonly string[]).includes(name)) continue;
    if (tokens.has(name as SignedParameter)) throw new SamlRefusal('malformed_response', `the query repeats ${name}`);
    tokens.set(name as SignedParameter, { token, value: decodeComponent(eq === -1 ? '' : token.slice(eq + 1)) });
  }
  const request = tokens.get('SAMLRequest');
  const response = tokens.get('SAMLResponse');
  if (request && response) throw new SamlRefusal('malformed_response', 'both SAMLRequest and SAMLResponse');
  const message = request ?? response;
  if (!message || message.value.trim() === '') throw new SamlRefusal('missing_response', 'no SAMLRequest or SAMLResponse');
  if (message.value.length > maxBytes) throw new SamlRefusal('too_large', `${message.value.length} characters`);
  const { canonical, bytes } = decodeStrictBase64(message.value);
  let xmlBytes: Buffer;
  try {
    // Bounded: a few KiB of DEFLATE data could otherwise inflate to gigabytes.
    xmlBytes = inflateRawSync(bytes, { maxOutputLength: maxBytes });
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw new SamlRefusal('too_large', 'inflated message too large');
    throw new SamlRefusal('not_xml', 'the message is not DEFLATE-compressed');
  }
  const relay = tokens.get('RelayState');
  const sigAlg = tokens.get('SigAlg');
  const signature = tokens.get('Signature');
  // The signed string of SAML bindings 3.4.4.1, in its fixed order, from the tokens exactly as received.
  const signedQuery = [message.token, relay?.token, sigAlg?.token, signature?.token].filter((t) => t !== undefined).join('&');
  return {
    binding: 'redirect',
    kind: request ? 'request' : 'response',
    encoded: canonical,
    relayState: relay ? relay.value : null,
    redirect: { sigAlg: sigAlg?.value ?? null, signature: signature?.value ?? null, signedQuery },
    doc: parseResponseDocument(xmlBytes),
  };
}

function decodePost(body: unknown, maxBytes: number): LogoutTransport {
  const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const request = fields.SAMLRequest;
  const response = fields.SAMLResponse;
  if (request !== undefined && response !== undefined) throw new SamlRefusal('malformed_response', 'both SAMLRequest and SAMLResponse');
  const value = request ?? response;
  // A repeated field arrives as an array: refused, not joined.
  if (typeof value !== 'string' || value.trim() === '') throw new SamlRefusal('missing_response', 'no SAMLRequest or SAMLResponse');
  if (value.length > maxBytes) throw new SamlRefusal('too_large', `${value.length} characters`);
  const { canonical, bytes } = decodeStrictBase64(value);
  const relayState = fields.RelayState;
  if (relayState !== undefined && typeof relayState !== 'string') throw new SamlRefusal('malformed_response', 'RelayState repeated');
  return {
    binding: 'post',
    kind: request !== undefined ? 'request' : 'response',
    encoded: canonical,
    relayState: relayState ?? null,
    redirect: null,
    doc: parseResponseDocument(bytes),
  };
}

function decodeComponent(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    throw new SamlRefusal('malformed_response', 'the query is not validly percent-encoded');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Document
// ---------------------------------------------------------------------------------------------------------------

/**
 * Checks a decoded logout message: its type matches the field it came in, issuer, Destination, time window,
 * subject (request) or status and InResponseTo (response), algorithms, and that a signature is present where the
 * binding puts it. Returns what later stages cross-check.
 */
export function checkLogoutDocument(transport: LogoutTransport, expect: LogoutExpectations): LogoutPreflight {
  const root = transport.doc.documentElement;
  const rootName = transport.kind === 'request' ? 'LogoutRequest' : 'LogoutResponse';
  if (!root || root.localName !== rootName || root.namespaceURI !== NS.samlp) {
    throw new SamlRefusal('malformed_response', `the ${transport.kind === 'request' ? 'SAMLRequest' : 'SAMLResponse'} is not a samlp:${rootName}`);
  }
  const facts = survey(root);
  if (facts.duplicateId !== null) throw new SamlRefusal('malformed_response', 'an ID value appears on more than one element');
  if (facts.hasComment) throw new SamlRefusal('malformed_response', `XML comments inside the ${rootName}`);
  const id = root.getAttribute('ID') ?? '';
  if (id === '') throw new SamlRefusal('malformed_response', `the ${rootName} has no ID`);

  // Issuer: required (node-saml would only compare it when present in some paths), and the configured IdP's.
  const issuer = childrenNamed(root, 'Issuer')[0];
  if (!issuer || issuer.namespaceURI !== NS.saml || issuer.textContent !== expect.idpEntityId) {
    throw new SamlRefusal('unknown_issuer', `${rootName} Issuer differs from the IdP entity ID`);
  }
  // A signed message names where it was sent (SAML bindings 3.4.5.2, 3.5.5.2): it must be our SLO URL.
  if (root.getAttribute('Destination') !== expect.sloUrl) throw new SamlRefusal('destination_mismatch', `${rootName} Destination`);

  const issueInstant = root.getAttribute('IssueInstant');
  if (!issueInstant) throw new SamlRefusal('malformed_response', `the ${rootName} has no IssueInstant`);
  const issueInstantMs = parseInstant(issueInstant, `${rootName}/@IssueInstant`);
  checkIssueInstant(issueInstantMs, { nowMs: expect.nowMs, clockSkewMs: expect.clockSkewMs, maxAgeMs: expect.maxMessageAgeMs }, rootName);

  let inResponseTo: string | null = null;
  if (transport.kind === 'request') {
    const notOnOrAfter = root.getAttribute('NotOnOrAfter');
    if (notOnOrAfter && expect.nowMs - expect.clockSkewMs >= parseInstant(notOnOrAfter, 'LogoutRequest/@NotOnOrAfter')) {
      throw new SamlRefusal('expired', 'LogoutRequest NotOnOrAfter has passed');
    }
    const nameIds = childrenNamed(root, 'NameID').filter((el) => el.namespaceURI === NS.saml);
    if (nameIds.length !== 1 || (nameIds[0]!.textContent ?? '').trim() === '') {
      const encrypted = childrenNamed(root, 'EncryptedID').length > 0;
      throw new SamlRefusal('missing_subject', encrypted ? 'encrypted NameID (EncryptedID) is not supported' : 'LogoutRequest without exactly one NameID');
    }
  } else {
    const status = childrenNamed(root, 'Status')[0];
    if (!status) throw new SamlRefusal('malformed_response', 'LogoutResponse without Status');
    const codes = statusCodes(status);
    if (codes[0] !== STATUS_SUCCESS) throw new SamlRefusal('status_not_success', `LogoutResponse StatusCode ${codes.join(' / ') || '(none)'}`);
    inResponseTo = root.getAttribute('InResponseTo') || null;
    if (inResponseTo === null) throw new SamlRefusal('unknown_in_response_to', 'LogoutResponse without InResponseTo');
  }

  // Algorithms of every XML signature in the document, and of the HTTP-Redirect binding's SigAlg.
  checkSignatureAlgorithms(facts, expect.allowSha1);
  if (transport.redirect) {
    const { sigAlg, signature } = transport.redirect;
    // node-saml accepts an HTTP-Redirect message without a Signature: a logout is only honoured when signed.
    if (!signature || !sigAlg) throw new SamlRefusal('signature_missing', 'HTTP-Redirect logout message without Signature/SigAlg');
    if (!isAcceptedSignatureMethod(sigAlg, expect.allowSha1)) throw new SamlRefusal('weak_algorithm', `SigAlg ${sigAlg}`);
  } else {
    const signatures = childElements(root).filter((el) => isDsig(el, 'Signature'));
    if (signatures.length === 0) throw new SamlRefusal('signature_missing', `the ${rootName} is not signed`);
    if (signatures.length > 1) throw new SamlRefusal('signature_invalid', 'more than one signature on one element');
  }
  return { id, issueInstantMs, inResponseTo };
}

/** The RelayState to echo back to the IdP: as sent, unless it is unreasonably long. */
export function echoableRelayState(relayState: string | null): string | null {
  return relayState !== null && relayState.length > 0 && relayState.length <= MAX_RELAY_STATE ? relayState : null;
}
