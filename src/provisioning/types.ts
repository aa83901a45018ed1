/**
 * Domain types shared by every channel (SAML, SCIM, LDAP, admin) and every store adapter.
 * Pure data: no HTTP, XML or database driver types may appear here.
 */

export type MatchBy = 'upn' | 'email';
export type Channel = 'saml' | 'scim' | 'ldap' | 'admin';

export interface Tenant {
  id: string;
  slug: string;
  name: string;
  /** Email domains the tenant owns, lower-case, no leading '@'. Empty = no domain restriction. */
  domains: string[];
  createdAt: Date;
  updatedAt: Date;
}

export interface IdpCertificate {
  /** PEM, with BEGIN/END lines. */
  pem: string;
  /** SHA-256 fingerprint, upper-case hex pairs joined by ':' (as Entra shows it). */
  fingerprint: string;
  notBefore: Date;
  notAfter: Date;
  subject: string;
}

/** What was read from the IdP's metadata. */
export interface IdpDescriptor {
  entityId: string;
  ssoRedirectUrl: string | null;
  ssoPostUrl: string | null;
  /** Location of the IdP's SingleLogoutService (HTTP-Redirect preferred, else HTTP-POST); null when it has none. */
  sloUrl: string | null;
  /** That endpoint's ResponseLocation, where LogoutResponses go instead (absent or null: sloUrl). */
  sloResponseUrl?: string | null;
  /** That endpoint's binding. Absent on connections imported before single logout existed: read as 'redirect'. */
  sloBinding?: 'redirect' | 'post' | null;
  nameIdFormats: string[];
  /** Every signing certificate, so a rollover needs no downtime. */
  certs: IdpCertificate[];
  /** Whether the metadata document carried a signature that verified against one of its own or a pinned cert. */
  metadataSigned: boolean;
  /** Where the metadata came from, for re-import. */
  source: { kind: 'xml' } | { kind: 'url'; url: string };
  importedAt: Date;
}

export type MembershipMode = 'sync' | 'append';

export interface JitSettings {
  /** Create accounts on first login. When off, only existing accounts may sign in. */
  enabled: boolean;
  /** Refresh name and email from the assertion on every login. */
  updateOnLogin: boolean;
  /** The claim carrying group ids/names; null = the usual names (Entra groups claim, groups, Group, memberOf). */
  groupsClaim: string | null;
  /**
   * sync: memberships that came from this connection's assertions are made equal to the claim (others are left
   * alone); append: claimed groups are added, none removed.
   */
  membershipMode: MembershipMode;
  /** Only users in at least one of these groups may sign in (external id or resolved name). Empty = everyone. */
  requireAnyGroup: string[];
  /** Only these groups are created and synced. Empty = all. */
  onlyGroups: string[];
  /** These groups are never created or synced. */
  excludeGroups: string[];
}

export interface ConnectionSettings {
  matchBy: MatchBy;
  /** Accept unsolicited responses (Entra "My Apps" tile). */
  allowIdpInitiated: boolean;
  /** Require the Response element itself to be signed (Entra signs only the assertion by default). */
  wantAuthnResponseSigned: boolean;
  /** Sign AuthnRequests with the SP key (RSA-SHA256). */
  signAuthnRequests: boolean;
  /** Accept RSA-SHA1 / SHA-1 digests. Off unless an admin opts in for a legacy IdP. */
  allowSha1: boolean;
  /**
   * SAML single logout started by Gatehouse: POST /logout also signs the user out at the IdP (a signed LogoutRequest
   * on the IdP's HTTP-Redirect SingleLogoutService). Absent (connections made before it existed) = false. LogoutRequests
   * the IdP sends to /sso/:connection/logout are honoured whatever this says.
   */
  singleLogout?: boolean;
  jit: JitSettings;
  /** SCIM provisioning for this connection; absent on connections made before SCIM existed (defaults apply). */
  scim?: ScimSettings;
}

/** What a SCIM DELETE does to a user: `soft` disables and detaches it (kept for audit); `hard` removes it. */
export type ScimDeleteMode = 'soft' | 'hard';

/** A custom SCIM User extension as an admin declared it (validated by src/scim/schemas.ts parseExtensionDeclarations). */
export interface ScimExtensionDeclaration {
  id: string;
  name?: string;
  description?: string;
  attributes: { name: string; type: 'string' | 'boolean' | 'integer' | 'dateTime' | 'reference'; multiValued?: boolean; description?: string }[];
}

export interface ScimSettings {
  /** Custom User extension schemas served, accepted, stored and returned for this connection. */
  extensions: ScimExtensionDeclaration[];
  deleteMode: ScimDeleteMode;
  /** Where SCIM token expiry alerts are mailed; null = log and flag only. */
  notificationEmail: string | null;
}

export const DEFAULT_SCIM_SETTINGS: Readonly<ScimSettings> = Object.freeze({ extensions: [], deleteMode: 'soft', notificationEmail: null });

/** The connection's SCIM settings with defaults for what is not set. */
export function scimSettingsOf(settings: ConnectionSettings): ScimSettings {
  return { ...DEFAULT_SCIM_SETTINGS, ...settings.scim };
}

export interface Connection {
  id: string;
  tenantId: string;
  /** Globally unique, appears in URLs: /sso/:slug/... */
  slug: string;
  name: string;
  /** Fixed at creation so a BASE_URL change does not silently break the IdP's configuration. */
  spEntityId: string;
  idp: IdpDescriptor;
  settings: ConnectionSettings;
  /** Incremented on every change; caches (e.g. the per-connection SAML validator) key on it. */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface User {
  id: string;
  tenantId: string;
  /** The value chosen by the connection's matchBy, as the IdP spelled it. */
  username: string;
  /** normaliseKey(username): unique per tenant. */
  usernameKey: string;
  email: string | null;
  givenName: string | null;
  familyName: string | null;
  displayName: string | null;
  /** given + family; the username when both are blank. */
  fullName: string;
  active: boolean;
  createdAt: Date;
  updatedAt: Date;
  lastLoginAt: Date | null;
}

/** Pins an IdP's immutable subject id (Entra objectidentifier, or a persistent NameID) to a user. */
export interface IdentityLink {
  connectionId: string;
  /** The immutable id at the IdP. Unique per connection. */
  subject: string;
  userId: string;
  createdAt: Date;
}

export interface Group {
  id: string;
  tenantId: string;
  /** The IdP's id for the group (Entra object id GUID). Unique per tenant. */
  externalId: string;
  displayName: string;
  /** False while the group is only known by its GUID. */
  nameResolved: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface Membership {
  userId: string;
  groupId: string;
  /** Who asserted this membership, e.g. 'saml:<connectionId>', 'scim:<connectionId>'. */
  source: string;
  createdAt: Date;
}

export type EventOutcome = 'success' | 'refused' | 'error' | 'info';

/** One entry of the provisioning log. Never holds tokens, assertions or cookies. */
export interface ProvisioningEvent {
  id: string;
  tenantId: string | null;
  connectionId: string | null;
  channel: Channel;
  /** e.g. 'login', 'user_created', 'user_updated', 'user_linked', 'groups_created', 'memberships_changed', 'group_renamed'. */
  type: string;
  outcome: EventOutcome;
  /** Who or what the event is about (a username, a group id); never a secret. */
  subject: string | null;
  /** Machine-readable reason code, e.g. 'audience_mismatch'. */
  reason: string | null;
  details: Record<string, unknown>;
  at: Date;
}
