/**
 * Maps a validated assertion's claims to the channel-neutral AssertedIdentity. Knows the claim names of Entra ID
 * (design.md section 5) and the common names of other SAML IdPs (Okta, ADFS, Keycloak, OIDs from eduPerson/inetOrgPerson).
 */
import type { AssertedIdentity } from '../provisioning/identity';
import type { AcceptedAssertion } from './types';

export const ENTRA_CLAIMS = {
  name: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
  email: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
  givenName: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname',
  surname: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname',
  objectId: 'http://schemas.microsoft.com/identity/claims/objectidentifier',
  tenantId: 'http://schemas.microsoft.com/identity/claims/tenantid',
  displayName: 'http://schemas.microsoft.com/identity/claims/displayname',
  groups: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups',
  groupsOverage: 'http://schemas.microsoft.com/claims/groups.link',
} as const;

const PERSISTENT_NAMEID = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';

/** Claim names tried in order for each identity field. */
const CLAIM_NAMES = {
  upn: [ENTRA_CLAIMS.name, 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn', 'upn', 'userPrincipalName'],
  email: [ENTRA_CLAIMS.email, 'email', 'mail', 'emailAddress', 'urn:oid:0.9.2342.19200300.100.1.3'],
  givenName: [ENTRA_CLAIMS.givenName, 'givenName', 'firstName', 'given_name', 'urn:oid:2.5.4.42'],
  familyName: [ENTRA_CLAIMS.surname, 'surname', 'sn', 'lastName', 'family_name', 'urn:oid:2.5.4.4'],
  displayName: [ENTRA_CLAIMS.displayName, 'displayName', 'name', 'urn:oid:2.16.840.1.113730.3.1.241'],
  immutableId: [ENTRA_CLAIMS.objectId, 'objectGUID', 'uid'],
  groups: [ENTRA_CLAIMS.groups, 'groups', 'Group', 'memberOf', 'http://schemas.xmlsoap.org/claims/Group'],
} as const;

function first(attributes: Record<string, string[]>, names: readonly string[]): string | null {
  for (const name of names) {
    const value = attributes[name]?.find((v) => v.trim() !== '');
    if (value !== undefined) return value.trim();
  }
  return null;
}

function all(attributes: Record<string, string[]>, names: readonly string[]): string[] | null {
  for (const name of names) {
    const values = attributes[name];
    if (values) return [...new Set(values.map((v) => v.trim()).filter((v) => v !== ''))];
  }
  return null;
}

export interface ClaimOptions {
  /** The connection's configured groups claim; null/absent = the usual names. */
  groupsClaim?: string | null;
}

export function identityFromAssertion(assertion: AcceptedAssertion, options: ClaimOptions = {}): AssertedIdentity {
  const { attributes } = assertion;
  const immutableClaim = first(attributes, CLAIM_NAMES.immutableId);
  const immutableId =
    immutableClaim ?? (assertion.nameIdFormat === PERSISTENT_NAMEID && assertion.nameId ? assertion.nameId : null);
  const groups = all(attributes, options.groupsClaim ? [options.groupsClaim] : CLAIM_NAMES.groups);
  const overage = attributes[ENTRA_CLAIMS.groupsOverage] !== undefined && groups === null;
  return {
    upn: first(attributes, CLAIM_NAMES.upn) ?? (assertion.nameId || null),
    email: first(attributes, CLAIM_NAMES.email),
    givenName: first(attributes, CLAIM_NAMES.givenName),
    familyName: first(attributes, CLAIM_NAMES.familyName),
    displayName: first(attributes, CLAIM_NAMES.displayName),
    immutableId,
    groups: overage ? null : (groups ?? []),
    groupsOverage: overage,
  };
}
