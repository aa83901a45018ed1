/**
 * Maps the errors @node-saml/node-saml 5.1.0 throws from validatePostResponseAsync (and, for single logout, from
 * validateRedirectAsync and validatePostRequestAsync) to our refusal codes.
 * node-saml signals everything with plain Errors, so the messages (read from its lib/saml.js and lib/xml.js) are
 * the only contract; anything unrecognised becomes `invalid_assertion`, never an acceptance. If an upgrade changes
 * a message, the ACS tests that assert specific reason codes fail and point here.
 */
import { SamlStatusError } from '@node-saml/node-saml';
import { SamlRefusal, type RefusalReason } from './refusal';

/**
 * Thrown by our cache provider, and by the ACS for its replay claim and login-state take, so store failures are not
 * mistaken for bad input (they must surface as 500s).
 */
export class CacheProviderError extends Error {
  constructor(cause: unknown, message = 'The SAML request cache is unavailable.') {
    super(message, { cause });
    this.name = 'CacheProviderError';
  }
}

const MESSAGE_RULES: ReadonlyArray<readonly [RegExp, RefusalReason]> = [
  // InResponseTo (lib/saml.js validateInResponseTo / processValidlySignedAssertionAsync).
  [/^InResponseTo is missing from response/, 'unsolicited_response'],
  [/^InResponseTo is not valid/, 'unknown_in_response_to'],
  [/^InResponseTo does not match subjectInResponseTo/, 'unknown_in_response_to'],
  [/^SubjectInResponseTo is not valid/, 'unknown_in_response_to'],
  // Every subject confirmation failed its time checks (NotBefore, NotOnOrAfter or maxAssertionAgeMs).
  [/^No valid subject confirmation found/, 'expired'],
  // Time conditions.
  [/^SAML assertion not yet valid/, 'not_yet_valid'],
  [/^SAML assertion expired/, 'expired'],
  // Audience.
  [/^SAML assertion (has no AudienceRestriction|AudienceRestriction has no Audience value|audience mismatch)/, 'audience_mismatch'],
  // Signatures (lib/saml.js and getVerifiedXml in lib/xml.js).
  [/^Invalid document signature/, 'signature_invalid'],
  [/^Invalid signature: multiple assertions/, 'multiple_assertions'],
  [/^Invalid signature/, 'signature_invalid'],
  [/^Too many signatures found/, 'signature_invalid'],
  [/^Only 1 signed references/, 'signature_invalid'],
  [/^ref URI included quote/, 'signature_invalid'],
  [/^signature reference uri not found/, 'signature_invalid'],
  [/^Cannot obtain assertion from signed data/, 'signature_invalid'],
  // Structure.
  [/^Missing SAML assertion/, 'malformed_response'],
  [/^Unable to process multiple conditions/, 'malformed_response'],
  [/^Error parsing /, 'malformed_response'],
  [/^No decryption key for encrypted SAML response/, 'encrypted_assertion_unsupported'],
  // Single logout (lib/saml.js validateRedirectAsync, validatePostRequestAsync and their helpers).
  [/^Invalid query signature/, 'signature_invalid'],
  [/ is not supported$/, 'weak_algorithm'],
  [/^(Unknown|Missing) SAML issuer/, 'unknown_issuer'],
  [/^Bad status code/, 'status_not_success'],
  [/^Missing SAML NameID/, 'missing_subject'],
  [/^Invalid LogoutRequest: multiple ID elements/, 'missing_subject'],
  [/^Missing SAML LogoutRequest ID/, 'malformed_response'],
  [/^Unknown SAML (request|response) message/, 'malformed_response'],
];

/** Turns whatever node-saml threw into a SamlRefusal; rethrows infrastructure failures unchanged. */
export function refusalFromNodeSamlError(error: unknown): SamlRefusal {
  if (error instanceof SamlRefusal) return error;
  if (error instanceof CacheProviderError) throw error;
  if (error instanceof SamlStatusError) return new SamlRefusal('status_not_success', error.message);
  const message = error instanceof Error ? error.message : String(error);
  for (const [pattern, reason] of MESSAGE_RULES) {
    if (pattern.test(message)) return new SamlRefusal(reason, message);
  }
  // Includes TypeErrors from malformed-but-signed content; the message says what broke, never the assertion.
  return new SamlRefusal('invalid_assertion', message.slice(0, 300));
}
