/**
 * The SCIM repositories on MongoDB: thin wrappers that hand the documents built in ./scim-queries to mongoose.
 * No multi-document transactions: each write is one conditional single-document update (version and owner in the
 * filter), followed by idempotent membership/child writes.
 */
import { randomUUID } from 'node:crypto';
import type { Model } from 'mongoose';
import { ConflictError } from '../../common/errors';
import type { GroupQuery, UserQuery } from '../../scim/query';
import type {
  ConnectionRepository,
  EventRepository,
  NewEvent,
  NewScimToken,
  NewUser,
  Page,
  PageRequest,
  ScimClient,
  ScimClientRepository,
  ScimGroupRecord,
  ScimGroupRepository,
  ScimScope,
  ScimToken,
  ScimTokenContext,
  ScimTokenRepository,
  ScimUserRecord,
  ScimUserRepository,
  ScimUserState,
  TenantRepository,
  UserPatch,
} from '../ports';
import type { MongoModels } from './models';
import { isDuplicateKeyError, pageWindow, toGroup, toUser, type GroupDoc, type MembershipDoc, type UserDoc } from './queries';
import {
  alertClaim,
  groupScopeFilter,
  memberConditions,
  newScimGroupDoc,
  newScimTokenDoc,
  newScimUserDoc,
  ownedAt,
  scimGroupDetach,
  scimGroupFilter,
  scimGroupSave,
  scimUserDetach,
  scimUserFilter,
  scimUserSave,
  toScimClient,
  toScimToken,
  tokensExpiringFilter,
  userScopeFilter,
  type ScimClientDoc,
  type ScimTokenDoc,
} from './scim-queries';

function stateOf(doc: UserDoc): ScimUserRecord['scim'] {
  if (!doc.scimConnectionId) return null;
  const resource = (doc.scimResource ?? {}) as Record<string, unknown>;
  const enterprise = resource['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'] as Record<string, unknown> | undefined;
  const emails = Array.isArray(resource.emails) ? (resource.emails as Record<string, unknown>[]) : [];
  return {
    connectionId: doc.scimConnectionId,
    externalId: doc.scimExternalId ?? null,
    userName: typeof resource.userName === 'string' ? resource.userName : doc.username,
    userNameKey: doc.scimUserNameKey ?? doc.usernameKey,
    employeeNumber: typeof enterprise?.employeeNumber === 'string' ? enterprise.employeeNumber : null,
    emails: emails.map((e) => ({
      value: typeof e.value === 'string' ? e.value : null,
      type: typeof e.type === 'string' ? e.type : null,
      primary: e.primary === true,
    })),
    resource,
  };
}

export function toUserRecord(doc: UserDoc): ScimUserRecord {
  return { user: toUser(doc), version: doc.version ?? 1, scim: stateOf(doc), detached: Boolean(doc.scimDeletedAt) };
}

export function toGroupRecord(doc: GroupDoc): ScimGroupRecord {
  return {
    group: toGroup(doc),
    version: doc.version ?? 1,
    scim: doc.scimConnectionId ? { connectionId: doc.scimConnectionId, externalId: doc.scimExternalId ?? null } : null,
    detached: Boolean(doc.scimDeletedAt),
  };
}

async function page<T, R>(model: Model<T>, filter: object, request: PageRequest, map: (doc: T) => R): Promise<Page<R>> {
  const { skip, limit } = pageWindow(request);
  const total = await model.countDocuments(filter as never).exec();
  if (limit === 0 || skip >= total) return { items: [], total };
  const docs = await model.find(filter as never).sort({ createdAt: 1, _id: 1 }).skip(skip).limit(limit).lean<T[]>().exec();
  return { items: docs.map(map), total };
}

export class MongoScimUserRepository implements ScimUserRepository {
  constructor(
    private readonly users: Model<UserDoc>,
    private readonly memberships: Model<MembershipDoc>,
    private readonly identityLinks: Model<{ userId: string }>,
    private readonly events: Pick<EventRepository, 'appendMany'>,
  ) {}

  async find(scope: ScimScope, id: string): Promise<ScimUserRecord | null> {
    const doc = await this.users.findOne({ $and: [{ _id: id }, userScopeFilter(scope)] } as never).lean<UserDoc>().exec();
    return doc ? toUserRecord(doc) : null;
  }

  async load(id: string): Promise<ScimUserRecord | null> {
    const doc = await this.users.findById(id).lean<UserDoc>().exec();
    return doc ? toUserRecord(doc) : null;
  }

  async existingIds(scope: ScimScope, ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const docs = await this.users
      .find({ $and: [{ _id: { $in: [...new Set(ids)] } }, userScopeFilter(scope)] } as never, { _id: 1 })
      .lean<{ _id: string }[]>()
      .exec();
    return docs.map((d) => d._id);
  }

  async query(scope: ScimScope, filter: UserQuery | null, request: PageRequest): Promise<Page<ScimUserRecord>> {
    return page(this.users, scimUserFilter(scope, filter), request, toUserRecord);
  }

  async create(connectionId: string, input: NewUser, state: ScimUserState): Promise<ScimUserRecord> {
    const doc = newScimUserDoc(connectionId, input, state, randomUUID(), new Date());
    try {
      await this.users.create(doc);
    } catch (error) {
      if (isDuplicateKeyError(error)) throw new ConflictError(`The username "${input.username}" is already taken in this tenant.`, 'username_taken');
      throw error;
    }
    return toUserRecord(doc);
  }

  /** MongoDB without a transaction: the account first, then its events (a failed log write fails the call). */
  async createWithLog(connectionId: string, input: NewUser, state: ScimUserState, log: (record: ScimUserRecord) => NewEvent[]): Promise<ScimUserRecord> {
    const record = await this.create(connectionId, input, state);
    await this.events.appendMany(log(record));
    return record;
  }

  async save(connectionId: string, userId: string, patch: UserPatch, state: ScimUserState, expectedVersion: number): Promise<ScimUserRecord | null> {
    try {
      const doc = await this.users
        .findOneAndUpdate(ownedAt(connectionId, userId, expectedVersion) as never, scimUserSave(connectionId, patch, state, new Date()), {
          returnDocument: 'after',
        })
        .lean<UserDoc>()
        .exec();
      return doc ? toUserRecord(doc) : null;
    } catch (error) {
      if (isDuplicateKeyError(error)) throw new ConflictError(`The username "${patch.username ?? patch.usernameKey}" is already taken in this tenant.`, 'username_taken');
      throw error;
    }
  }

  async detach(connectionId: string, userId: string, expectedVersion: number): Promise<boolean> {
    const result = await this.users.updateOne(ownedAt(connectionId, userId, expectedVersion) as never, scimUserDetach(new Date())).exec();
    if (result.modifiedCount === 0) return false;
    await this.memberships.deleteMany({ userId, source: `scim:${connectionId}` }).exec();
    return true;
  }

  async remove(connectionId: string, userId: string, expectedVersion: number): Promise<boolean> {
    const { deletedCount } = await this.users.deleteOne(ownedAt(connectionId, userId, expectedVersion) as never).exec();
    if (deletedCount === 0) return false;
    // No cascade in MongoDB.
    await this.memberships.deleteMany({ userId }).exec();
    await this.identityLinks.deleteMany({ userId }).exec();
    return true;
  }
}

export class MongoScimGroupRepository implements ScimGroupRepository {
  constructor(
    private readonly groups: Model<GroupDoc>,
    private readonly memberships: Model<MembershipDoc>,
  ) {}

  async find(scope: ScimScope, id: string): Promise<ScimGroupRecord | null> {
    const doc = await this.groups.findOne({ $and: [{ _id: id }, groupScopeFilter(scope)] } as never).lean<GroupDoc>().exec();
    return doc ? toGroupRecord(doc) : null;
  }

  async load(id: string): Promise<ScimGroupRecord | null> {
    const doc = await this.groups.findById(id).lean<GroupDoc>().exec();
    return doc ? toGroupRecord(doc) : null;
  }

  async query(scope: ScimScope, filter: GroupQuery | null, request: PageRequest): Promise<Page<ScimGroupRecord>> {
    const resolved = await Promise.all(
      memberConditions(scope.connectionId, filter).map(async (condition) => (await this.memberships.distinct('groupId', condition).exec()) as string[]),
    );
    return page(this.groups, scimGroupFilter(scope, filter, resolved), request, toGroupRecord);
  }

  async members(groupIds: string[], source: string): Promise<Map<string, string[]>> {
    const result = new Map<string, string[]>();
    if (groupIds.length === 0) return result;
    const docs = await this.memberships
      .find({ source, groupId: { $in: [...new Set(groupIds)] } })
      .sort({ createdAt: 1, userId: 1 })
      .lean<MembershipDoc[]>()
      .exec();
    for (const doc of docs) result.set(doc.groupId, [...(result.get(doc.groupId) ?? []), doc.userId]);
    return result;
  }

  async membersAmong(groupId: string, source: string, userIds: string[]): Promise<string[]> {
    if (userIds.length === 0) return [];
    // The unique (userId, groupId, source) index answers each id.
    const docs = await this.memberships
      .find({ userId: { $in: [...new Set(userIds)] }, groupId, source }, { userId: 1, _id: 0 })
      .lean<{ userId: string }[]>()
      .exec();
    return docs.map((doc) => doc.userId);
  }

  private async applyMembers(groupId: string, source: string, add: string[], remove: string[]): Promise<void> {
    const now = new Date();
    const ops = [
      ...[...new Set(add)].map((userId) => ({
        updateOne: { filter: { userId, groupId, source }, update: { $setOnInsert: { userId, groupId, source, createdAt: now } }, upsert: true },
      })),
      ...[...new Set(remove)].map((userId) => ({ deleteOne: { filter: { userId, groupId, source } } })),
    ];
    if (ops.length === 0) return;
    try {
      await this.memberships.bulkWrite(ops as never, { ordered: false });
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
  }

  async create(
    connectionId: string,
    tenantId: string,
    input: { displayName: string; externalId: string | null },
    members: string[],
  ): Promise<ScimGroupRecord> {
    const doc = newScimGroupDoc(connectionId, tenantId, input, randomUUID(), new Date());
    try {
      await this.groups.create(doc);
    } catch (error) {
      if (isDuplicateKeyError(error)) throw new ConflictError(`A group with externalId "${input.externalId}" already exists in this tenant.`);
      throw error;
    }
    await this.applyMembers(doc._id, `scim:${connectionId}`, members, []);
    return toGroupRecord(doc);
  }

  async save(
    connectionId: string,
    groupId: string,
    change: { displayName: string; externalId: string | null; add: string[]; remove: string[] },
    expectedVersion: number,
  ): Promise<ScimGroupRecord | null> {
    let doc: GroupDoc | null;
    try {
      doc = await this.groups
        .findOneAndUpdate(ownedAt(connectionId, groupId, expectedVersion) as never, scimGroupSave(connectionId, change, new Date()), {
          returnDocument: 'after',
        })
        .lean<GroupDoc>()
        .exec();
    } catch (error) {
      if (isDuplicateKeyError(error)) throw new ConflictError(`A group with externalId "${change.externalId}" already exists in this tenant.`);
      throw error;
    }
    if (!doc) return null;
    await this.applyMembers(groupId, `scim:${connectionId}`, change.add, change.remove);
    return toGroupRecord(doc);
  }

  async detach(connectionId: string, groupId: string, expectedVersion: number): Promise<boolean> {
    const result = await this.groups.updateOne(ownedAt(connectionId, groupId, expectedVersion) as never, scimGroupDetach(new Date())).exec();
    if (result.modifiedCount === 0) return false;
    await this.memberships.deleteMany({ groupId, source: `scim:${connectionId}` }).exec();
    return true;
  }

  async remove(connectionId: string, groupId: string, expectedVersion: number): Promise<boolean> {
    const { deletedCount } = await this.groups.deleteOne(ownedAt(connectionId, groupId, expectedVersion) as never).exec();
    if (deletedCount === 0) return false;
    await this.memberships.deleteMany({ groupId }).exec();
    return true;
  }
}

export class MongoScimTokenRepository implements ScimTokenRepository {
  constructor(
    private readonly model: Model<ScimTokenDoc>,
    private readonly related: Pick<MongoScimDependencies, 'tenants' | 'connections'>,
  ) {}

  async create(input: NewScimToken): Promise<ScimToken> {
    const doc = newScimTokenDoc(input, randomUUID(), new Date());
    await this.model.create(doc);
    return toScimToken(doc);
  }

  async findByHash(hash: string): Promise<(ScimToken & { hash: string }) | null> {
    const doc = await this.model.findOne({ hash }).lean<ScimTokenDoc>().exec();
    return doc ? { ...toScimToken(doc), hash: doc.hash } : null;
  }

  async findByHashWithContext(hash: string): Promise<ScimTokenContext | null> {
    const token = await this.findByHash(hash);
    if (!token) return null;
    const connection = await this.related.connections.findById(token.connectionId);
    const tenant = connection && connection.tenantId === token.tenantId ? await this.related.tenants.findById(connection.tenantId) : null;
    return { token, connection, tenant };
  }

  async findById(id: string): Promise<ScimToken | null> {
    const doc = await this.model.findById(id).lean<ScimTokenDoc>().exec();
    return doc ? toScimToken(doc) : null;
  }

  async listByConnection(connectionId: string): Promise<ScimToken[]> {
    const docs = await this.model.find({ connectionId, kind: 'token' }).sort({ createdAt: -1, _id: 1 }).lean<ScimTokenDoc[]>().exec();
    return docs.map(toScimToken);
  }

  async touch(id: string, at: Date): Promise<void> {
    await this.model.updateOne({ _id: id }, { $set: { lastUsedAt: at } }).exec();
  }

  async extend(id: string, expiresAt: Date): Promise<ScimToken | null> {
    const doc = await this.model
      .findOneAndUpdate({ _id: id }, { $set: { expiresAt, alertsSent: [] } }, { returnDocument: 'after' })
      .lean<ScimTokenDoc>()
      .exec();
    return doc ? toScimToken(doc) : null;
  }

  async revoke(id: string, at: Date): Promise<ScimToken | null> {
    await this.model.updateOne({ _id: id, revokedAt: null }, { $set: { revokedAt: at } }).exec();
    return this.findById(id);
  }

  async revokeByClient(clientId: string, at: Date): Promise<number> {
    const result = await this.model.updateMany({ clientId, kind: 'access', revokedAt: null, expiresAt: { $gt: at } }, { $set: { revokedAt: at } }).exec();
    return result.modifiedCount;
  }

  async listExpiring(now: Date, before: Date): Promise<ScimToken[]> {
    const docs = await this.model.find(tokensExpiringFilter(now, before)).sort({ expiresAt: 1 }).lean<ScimTokenDoc[]>().exec();
    return docs.map(toScimToken);
  }

  async claimAlert(id: string, threshold: number): Promise<boolean> {
    const { filter, update } = alertClaim(id, threshold);
    return (await this.model.updateOne(filter, update).exec()).modifiedCount === 1;
  }

  async releaseAlert(id: string, threshold: number): Promise<void> {
    await this.model.updateOne({ _id: id }, { $pull: { alertsSent: threshold } }).exec();
  }

  async deleteExpiredAccess(cutoff: Date): Promise<number> {
    return (await this.model.deleteMany({ kind: 'access', expiresAt: { $lt: cutoff } }).exec()).deletedCount;
  }
}

export class MongoScimClientRepository implements ScimClientRepository {
  constructor(private readonly model: Model<ScimClientDoc>) {}

  async create(input: { connectionId: string; tenantId: string; clientId: string; secretHash: string }): Promise<ScimClient> {
    const doc: ScimClientDoc = { ...input, _id: randomUUID(), createdAt: new Date(), lastUsedAt: null, revokedAt: null };
    try {
      await this.model.create(doc);
    } catch (error) {
      if (isDuplicateKeyError(error)) throw new ConflictError('The client id exists.');
      throw error;
    }
    return toScimClient(doc);
  }

  async findByClientId(clientId: string): Promise<(ScimClient & { secretHash: string }) | null> {
    const doc = await this.model.findOne({ clientId }).lean<ScimClientDoc>().exec();
    return doc ? { ...toScimClient(doc), secretHash: doc.secretHash } : null;
  }

  async findById(id: string): Promise<ScimClient | null> {
    const doc = await this.model.findById(id).lean<ScimClientDoc>().exec();
    return doc ? toScimClient(doc) : null;
  }

  async listByConnection(connectionId: string): Promise<ScimClient[]> {
    const docs = await this.model.find({ connectionId }).sort({ createdAt: -1, _id: 1 }).lean<ScimClientDoc[]>().exec();
    return docs.map(toScimClient);
  }

  async touch(id: string, at: Date): Promise<void> {
    await this.model.updateOne({ _id: id }, { $set: { lastUsedAt: at } }).exec();
  }

  async revoke(id: string, at: Date): Promise<ScimClient | null> {
    await this.model.updateOne({ _id: id, revokedAt: null }, { $set: { revokedAt: at } }).exec();
    return this.findById(id);
  }
}

/** The repositories the SCIM ones read through or write with (the store's own). */
export interface MongoScimDependencies {
  tenants: Pick<TenantRepository, 'findById'>;
  connections: Pick<ConnectionRepository, 'findById'>;
  events: Pick<EventRepository, 'appendMany'>;
}

export function createMongoScimRepositories(models: MongoModels, dependencies: MongoScimDependencies) {
  return {
    scimUsers: new MongoScimUserRepository(models.users, models.memberships, models.identityLinks as unknown as Model<{ userId: string }>, dependencies.events),
    scimGroups: new MongoScimGroupRepository(models.groups, models.memberships),
    scimTokens: new MongoScimTokenRepository(models.scimTokens, dependencies),
    scimClients: new MongoScimClientRepository(models.scimClients),
  };
}
