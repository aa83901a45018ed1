/** What the hardened ACS pipeline hands to the rest of Gatehouse once a response passed every check. */
export interface AcceptedAssertion {
  issuer: string;
  assertionId: string;
  nameId: string;
  nameIdFormat: string | null;
  sessionIndex: string | null;
  /** The AuthnRequest this answers, or null for an IdP-initiated login. */
  inResponseTo: string | null;
  /** Attribute name (claim URI) -> values, from the validated profile only. */
  attributes: Record<string, string[]>;
  /** Where to send the browser next: a validated local path, or null for the default. */
  returnTo: string | null;
}

/** What single logout needs to name the IdP session a sign-in started (kept in the web session at login). */
export interface SamlSessionSubject {
  nameId: string;
  nameIdFormat: string | null;
  sessionIndex: string | null;
}

/** A LogoutRequest from the IdP that passed every check. */
export interface AcceptedLogoutRequest {
  kind: 'request';
  binding: 'redirect' | 'post';
  /** The request ID (the LogoutResponse answers it). */
  id: string;
  /** From node-saml's validated result only. */
  nameId: string;
  nameIdFormat: string | null;
  sessionIndex: string | null;
  /** The IdP's RelayState, to echo back unchanged; null when absent. */
  relayState: string | null;
}

/** A LogoutResponse answering one of our LogoutRequests, that passed every check. */
export interface AcceptedLogoutResponse {
  kind: 'response';
  binding: 'redirect' | 'post';
  /** The id of our LogoutRequest it answers (consumed: it cannot be answered twice). */
  inResponseTo: string;
  /** Where to send the browser: a validated local path (stored with the request, else a local RelayState), or null. */
  returnTo: string | null;
}
