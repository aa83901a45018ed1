/**
 * Why an assertion (or a login attempt) was refused. The codes are part of the public contract: they appear on the
 * error page, in JSON errors and in the provisioning log, and an admin acts on them.
 */
export const REFUSAL_REASONS = {
  unknown_connection: 'No SAML connection with this name exists.',
  missing_response: 'The request carried no SAMLResponse.',
  too_large: 'The SAMLResponse is larger than Gatehouse accepts.',
  not_base64: 'The SAMLResponse is not valid base64.',
  not_xml: 'The SAMLResponse is not well-formed XML.',
  doctype_forbidden: 'The SAMLResponse contains a DOCTYPE or entity declaration, which SAML never needs.',
  malformed_response: 'The SAMLResponse does not have the structure of a SAML 2.0 Response.',
  multiple_assertions: 'The Response must contain exactly one Assertion, directly inside it.',
  encrypted_assertion_unsupported: 'The assertion is encrypted; this connection is not set up for encrypted assertions.',
  status_not_success: 'The identity provider reported that the sign-in did not succeed.',
  unknown_issuer: 'The response was issued by a different identity provider than the one configured.',
  signature_missing: 'The response is not signed as this connection requires.',
  signature_invalid: 'The signature does not verify against the identity provider certificates on file.',
  weak_algorithm: 'The response is signed or digested with an algorithm this connection does not accept (e.g. SHA-1).',
  audience_mismatch: 'The assertion is addressed to a different service provider (audience).',
  destination_mismatch: 'The response was sent to a different address (Destination) than this ACS URL.',
  recipient_mismatch: 'The subject confirmation names a different Recipient than this ACS URL.',
  expired: 'The assertion has expired.',
  not_yet_valid: 'The assertion is not valid yet (check the clocks of both servers).',
  replayed: 'This assertion has already been used.',
  unknown_in_response_to: 'The response answers a sign-in request that Gatehouse did not send, or that has expired.',
  unsolicited_response: 'The response was not requested, and identity-provider-initiated sign-in is off for this connection.',
  missing_subject: 'The assertion does not name the user (no NameID or configured claim).',
  invalid_assertion: 'The assertion failed validation.',
} as const;

export type RefusalReason = keyof typeof REFUSAL_REASONS;

/** Thrown by the ACS pipeline; carries a reason code and an HTTP status. Never carries the assertion itself. */
export class SamlRefusal extends Error {
  readonly status: number;
  constructor(
    readonly reason: RefusalReason,
    /** Extra detail for the log only (never shown to end users, never secret material). */
    readonly detail?: string,
    status?: number,
  ) {
    super(REFUSAL_REASONS[reason]);
    this.name = 'SamlRefusal';
    this.status = status ?? (reason === 'too_large' ? 413 : reason === 'unknown_connection' ? 404 : 400);
  }
}
