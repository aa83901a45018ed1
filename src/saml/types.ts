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
