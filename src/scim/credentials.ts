/**
 * SCIM credentials: the long-lived bearer tokens an admin creates for a connection (shown once, stored as
 * hashToken, several active at once, one year by default), the OAuth 2.0 client-credentials clients some apps use
 * instead, and the 1-hour access tokens those clients obtain. The token alone selects the connection and its tenant.
 * Hashing and comparison go through src/common/secrets only.
 */
import { ValidationError, NotFoundError } from '../common/errors';
import { hashToken, randomSecret, secretsEqual } from '../common/secrets';
import type { Connection, Tenant } from '../provisioning/types';
import type { ScimClient, ScimToken, ScimTokenContext, Store } from '../store/ports';

export const DEFAULT_TOKEN_DAYS = 365;
export const MAX_TOKEN_DAYS = 3650;
export const ACCESS_TOKEN_SECONDS = 3600;
const DAY_MS = 86_400_000;
/** A token's last use is recorded at most this often (one write per request would be wasted I/O). */
const TOUCH_INTERVAL_MS = 60_000;

const TOKEN_PREFIX = 'gh_scim_';
const ACCESS_PREFIX = 'gh_scimat_';
const CLIENT_PREFIX = 'gh_client_';
const SECRET_PREFIX = 'gh_cs_';
/** Characters of a token shown in lists: the fixed prefix plus 6 random ones. */
const SHOWN = 6;

export type TokenStatus = 'active' | 'expired' | 'revoked';

export interface TokenView {
  id: string;
  prefix: string;
  status: TokenStatus;
  createdAt: string;
  expiresAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  /** Expiry alerts already sent for the current expiry (days before). */
  alertsSent: number[];
}

export interface ClientView {
  id: string;
  clientId: string;
  status: 'active' | 'revoked';
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export function tokenStatus(token: Pick<ScimToken, 'revokedAt' | 'expiresAt'>, now = new Date()): TokenStatus {
  if (token.revokedAt) return 'revoked';
  return token.expiresAt.getTime() <= now.getTime() ? 'expired' : 'active';
}

export function tokenView(token: ScimToken, now = new Date()): TokenView {
  return {
    id: token.id,
    prefix: token.prefix,
    status: tokenStatus(token, now),
    createdAt: token.createdAt.toISOString(),
    expiresAt: token.expiresAt.toISOString(),
    lastUsedAt: token.lastUsedAt?.toISOString() ?? null,
    revokedAt: token.revokedAt?.toISOString() ?? null,
    alertsSent: token.alertsSent,
  };
}

export function clientView(client: ScimClient): ClientView {
  return {
    id: client.id,
    clientId: client.clientId,
    status: client.revokedAt ? 'revoked' : 'active',
    createdAt: client.createdAt.toISOString(),
    lastUsedAt: client.lastUsedAt?.toISOString() ?? null,
    revokedAt: client.revokedAt?.toISOString() ?? null,
  };
}

function days(value: unknown): number {
  if (value === undefined || value === null) return DEFAULT_TOKEN_DAYS;
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_TOKEN_DAYS) {
    throw new ValidationError(`expiresInDays must be a whole number of days from 1 to ${MAX_TOKEN_DAYS}.`, undefined, 'invalid_expiry');
  }
  return n;
}

/** Why a presented bearer token was not accepted (logged; the client only ever sees 401). */
export type AuthFailure = 'missing' | 'unknown' | 'expired' | 'revoked' | 'connection_gone';

export interface Authenticated {
  token: ScimToken;
  connection: Connection;
  tenant: Tenant;
}

/** A client as the token endpoint's log names it (never its secret or hash). */
export type OAuthClientRef = Pick<ScimClient, 'id' | 'clientId' | 'connectionId' | 'tenantId'>;

export interface IssuedAccessToken {
  accessToken: string;
  expiresIn: number;
  client: OAuthClientRef;
}

export interface RefusedAccessToken {
  refused: 'unknown_client' | 'wrong_secret' | 'revoked' | 'connection_gone';
  /** The client the request named, when it exists (its connection's log records the refusal). */
  client: OAuthClientRef | null;
}

function clientOf(client: ScimClient): OAuthClientRef {
  return { id: client.id, clientId: client.clientId, connectionId: client.connectionId, tenantId: client.tenantId };
}

export class ScimCredentials {
  constructor(private readonly store: Store) {}

  // ---- long-lived tokens -----------------------------------------------------------------------------------------

  async createToken(connection: Connection, input: { expiresInDays?: unknown } = {}, now = new Date()): Promise<{ id: string; token: string; prefix: string; expiresAt: string }> {
    const secret = `${TOKEN_PREFIX}${randomSecret(32)}`;
    const token = await this.store.scimTokens.create({
      connectionId: connection.id,
      tenantId: connection.tenantId,
      kind: 'token',
      hash: hashToken(secret),
      prefix: secret.slice(0, TOKEN_PREFIX.length + SHOWN),
      clientId: null,
      expiresAt: new Date(now.getTime() + days(input.expiresInDays) * DAY_MS),
    });
    return { id: token.id, token: secret, prefix: token.prefix, expiresAt: token.expiresAt.toISOString() };
  }

  async listTokens(connectionId: string): Promise<TokenView[]> {
    const now = new Date();
    return (await this.store.scimTokens.listByConnection(connectionId)).map((t) => tokenView(t, now));
  }

  private async ownToken(connectionId: string, tokenId: string): Promise<ScimToken> {
    const token = await this.store.scimTokens.findById(tokenId);
    if (!token || token.connectionId !== connectionId || token.kind !== 'token') {
      throw new NotFoundError(`No SCIM token "${tokenId}" on this connection.`, 'scim_token_not_found');
    }
    return token;
  }

  /** Sets the expiry to `expiresInDays` (default 365) from now; a revoked token stays revoked. */
  async extendToken(connectionId: string, tokenId: string, input: { expiresInDays?: unknown } = {}, now = new Date()): Promise<TokenView> {
    const token = await this.ownToken(connectionId, tokenId);
    if (token.revokedAt) throw new ValidationError('A revoked token cannot be extended; create a new one.', undefined, 'scim_token_revoked');
    const extended = await this.store.scimTokens.extend(token.id, new Date(now.getTime() + days(input.expiresInDays) * DAY_MS));
    return tokenView(extended!, now);
  }

  async revokeToken(connectionId: string, tokenId: string, now = new Date()): Promise<TokenView> {
    const token = await this.ownToken(connectionId, tokenId);
    return tokenView((await this.store.scimTokens.revoke(token.id, now))!, now);
  }

  // ---- OAuth clients ---------------------------------------------------------------------------------------------

  async createClient(connection: Connection): Promise<{ id: string; clientId: string; clientSecret: string }> {
    const clientId = `${CLIENT_PREFIX}${randomSecret(12)}`;
    const clientSecret = `${SECRET_PREFIX}${randomSecret(32)}`;
    const client = await this.store.scimClients.create({
      connectionId: connection.id,
      tenantId: connection.tenantId,
      clientId,
      secretHash: hashToken(clientSecret),
    });
    return { id: client.id, clientId, clientSecret };
  }

  async listClients(connectionId: string): Promise<ClientView[]> {
    return (await this.store.scimClients.listByConnection(connectionId)).map(clientView);
  }

  /** Revokes the client and every access token it obtained. */
  async revokeClient(connectionId: string, id: string, now = new Date()): Promise<ClientView> {
    const client = (await this.store.scimClients.findById(id)) ?? (await this.store.scimClients.findByClientId(id));
    if (!client || client.connectionId !== connectionId) throw new NotFoundError(`No OAuth client "${id}" on this connection.`, 'scim_client_not_found');
    const revoked = await this.store.scimClients.revoke(client.id, now);
    await this.store.scimTokens.revokeByClient(client.clientId, now);
    return clientView(revoked!);
  }

  /**
   * The client-credentials grant: a 1-hour bearer token for a valid, unrevoked client. When refused, `client` is the
   * client the id named (wrong secret, revoked) or null (unknown id), so the refusal can be logged on its connection.
   */
  async issueAccessToken(clientId: string, clientSecret: string, now = new Date()): Promise<IssuedAccessToken | RefusedAccessToken> {
    const client = await this.store.scimClients.findByClientId(clientId);
    // Compare even when the client is unknown, so timing does not tell which client ids exist.
    const matches = secretsEqual(hashToken(clientSecret), client?.secretHash ?? hashToken(`${clientSecret}-unknown`));
    const known = client ? clientOf(client) : null;
    if (!client || !matches) return { refused: client ? 'wrong_secret' : 'unknown_client', client: known };
    if (client.revokedAt) return { refused: 'revoked', client: known };
    const connection = await this.store.connections.findById(client.connectionId);
    if (!connection) return { refused: 'connection_gone', client: null };
    const secret = `${ACCESS_PREFIX}${randomSecret(32)}`;
    await this.store.scimTokens.create({
      connectionId: client.connectionId,
      tenantId: client.tenantId,
      kind: 'access',
      hash: hashToken(secret),
      prefix: secret.slice(0, ACCESS_PREFIX.length + SHOWN),
      clientId: client.clientId,
      expiresAt: new Date(now.getTime() + ACCESS_TOKEN_SECONDS * 1000),
    });
    await this.store.scimClients.touch(client.id, now);
    return { accessToken: secret, expiresIn: ACCESS_TOKEN_SECONDS, client: known! };
  }

  // ---- authentication --------------------------------------------------------------------------------------------

  /** Looks the token up by its hash, compares in constant time, checks expiry and revocation. */
  async authenticate(presented: string | undefined, now = new Date()): Promise<Authenticated | { failure: AuthFailure; token?: ScimToken }> {
    if (!presented) return { failure: 'missing' };
    const hash = hashToken(presented);
    // Read on every request, never cached: a revoked or expired token, or a deleted connection, stops working at once.
    const context = await this.store.scimTokens.findByHashWithContext(hash);
    const token = context?.token;
    if (!token || !secretsEqual(hash, token.hash)) return { failure: 'unknown' };
    if (token.revokedAt) return { failure: 'revoked', token };
    if (token.expiresAt.getTime() <= now.getTime()) return { failure: 'expired', token };
    const { connection, tenant } = context;
    if (!connection || !tenant) return { failure: 'connection_gone', token };
    if (!token.lastUsedAt || now.getTime() - token.lastUsedAt.getTime() >= TOUCH_INTERVAL_MS) {
      await this.store.scimTokens.touch(token.id, now);
    }
    return { token, connection, tenant };
  }
}
