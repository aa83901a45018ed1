/** Row shapes of the SQLite tables and their mapping to domain objects. Timestamps are epoch ms integers. */
import type {
  Channel,
  Connection,
  ConnectionSettings,
  EventOutcome,
  Group,
  IdentityLink,
  IdpDescriptor,
  Membership,
  ProvisioningEvent,
  Tenant,
  User,
} from '../../provisioning/types';
import { reviveIdpDescriptor } from '../json';

export interface TenantRow {
  id: string;
  slug: string;
  name: string;
  domains: string;
  created_at: number;
  updated_at: number;
}

export interface ConnectionRow {
  id: string;
  tenant_id: string;
  slug: string;
  name: string;
  sp_entity_id: string;
  idp: string;
  settings: string;
  version: number;
  created_at: number;
  updated_at: number;
}

export interface UserRow {
  id: string;
  tenant_id: string;
  username: string;
  username_key: string;
  email: string | null;
  given_name: string | null;
  family_name: string | null;
  display_name: string | null;
  full_name: string;
  active: number;
  created_at: number;
  updated_at: number;
  last_login_at: number | null;
}

export interface IdentityLinkRow {
  connection_id: string;
  subject: string;
  user_id: string;
  created_at: number;
}

export interface GroupRow {
  id: string;
  tenant_id: string;
  external_id: string;
  display_name: string;
  name_resolved: number;
  created_at: number;
  updated_at: number;
}

export interface MembershipRow {
  user_id: string;
  group_id: string;
  source: string;
  created_at: number;
}

export interface EventRow {
  id: string;
  tenant_id: string | null;
  connection_id: string | null;
  channel: string;
  type: string;
  outcome: string;
  subject: string | null;
  reason: string | null;
  details: string;
  at: number;
}

export function toTenant(row: TenantRow): Tenant {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    domains: JSON.parse(row.domains) as string[],
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

export function toConnection(row: ConnectionRow): Connection {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    slug: row.slug,
    name: row.name,
    spEntityId: row.sp_entity_id,
    idp: reviveIdpDescriptor(JSON.parse(row.idp) as IdpDescriptor),
    settings: JSON.parse(row.settings) as ConnectionSettings,
    version: row.version,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

export function toUser(row: UserRow): User {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    username: row.username,
    usernameKey: row.username_key,
    email: row.email,
    givenName: row.given_name,
    familyName: row.family_name,
    displayName: row.display_name,
    fullName: row.full_name,
    active: row.active === 1,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    lastLoginAt: row.last_login_at === null ? null : new Date(row.last_login_at),
  };
}

export function toIdentityLink(row: IdentityLinkRow): IdentityLink {
  return { connectionId: row.connection_id, subject: row.subject, userId: row.user_id, createdAt: new Date(row.created_at) };
}

export function toGroup(row: GroupRow): Group {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    externalId: row.external_id,
    displayName: row.display_name,
    nameResolved: row.name_resolved === 1,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

export function toMembership(row: MembershipRow): Membership {
  return { userId: row.user_id, groupId: row.group_id, source: row.source, createdAt: new Date(row.created_at) };
}

export function toEvent(row: EventRow): ProvisioningEvent {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    connectionId: row.connection_id,
    channel: row.channel as Channel,
    type: row.type,
    outcome: row.outcome as EventOutcome,
    subject: row.subject,
    reason: row.reason,
    details: JSON.parse(row.details) as Record<string, unknown>,
    at: new Date(row.at),
  };
}
