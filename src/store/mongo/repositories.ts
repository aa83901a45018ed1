/**
 * The MongoDB repositories: thin wrappers that hand the documents built in ./queries to mongoose and map duplicate
 * key errors to ConflictError. Reads use lean() (plain objects, no mongoose documents on the hot path).
 */
import { randomUUID } from 'node:crypto';
import { Types, type Model } from 'mongoose';
import { ConflictError } from '../../common/errors';
import type { Connection, Group, IdentityLink, Membership, ProvisioningEvent, Tenant, User } from '../../provisioning/types';
import type {
  ConnectionPatch,
  ConnectionRepository,
  EventQuery,
  EventRepository,
  ExpiringMap,
  GroupRepository,
  IdentityLinkRepository,
  MembershipRepository,
  NewConnection,
  NewEvent,
  NewTenant,
  NewUser,
  OnceCache,
  Page,
  PageRequest,
  TenantRepository,
  UserPatch,
  UserRepository,
} from '../ports';
import type { MongoModels } from './models';
import {
  claimSucceeded,
  connectionUpdate,
  eventListQuery,
  eventsOlderThan,
  expiredBy,
  groupEnsureUpsert,
  groupRename,
  groupsByExternalIdsFilter,
  groupsByIdsQuery,
  groupsByTenantQuery,
  identityLinkUpsert,
  isDuplicateKeyError,
  liveRequest,
  membershipKey,
  membershipSyncPlan,
  membershipUpsert,
  newConnectionDoc,
  newEventDoc,
  newTenantDoc,
  newUserDoc,
  replayClaim,
  requestPut,
  tenantUpdate,
  toConnection,
  toEvent,
  toGroup,
  toIdentityLink,
  toMembership,
  toTenant,
  toUser,
  userKeyFilter,
  userUpdate,
  usersByTenantQuery,
  userSearchQuery,
  groupSearchQuery,
  type ConnectionDoc,
  type EventDoc,
  type GroupDoc,
  type IdentityLinkDoc,
  type ListQuery,
  type MembershipDoc,
  type ReplayDoc,
  type RequestDoc,
  type TenantDoc,
  type UserDoc,
} from './queries';

/** Runs a write; a duplicate key error becomes ConflictError with the given message. */
async function uniquely<T>(write: () => Promise<T>, message: string, code = 'conflict'): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (isDuplicateKeyError(error)) throw new ConflictError(message, code);
    throw error;
  }
}

/** Runs an insert-if-absent upsert; a duplicate key error means a concurrent call inserted first, which is fine. */
async function upsertIfAbsent(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (error) {
    if (isDuplicateKeyError(error)) return false;
    throw error;
  }
}

async function findList<T>(model: Model<T>, query: ListQuery<T>): Promise<T[]> {
  if (query.limit === 0) return [];
  return model.find(query.filter).sort(query.sort).skip(query.skip).limit(query.limit).lean<T[]>().exec();
}

export class MongoTenantRepository implements TenantRepository {
  constructor(private readonly model: Model<TenantDoc>) {}

  async create(input: NewTenant): Promise<Tenant> {
    const doc = newTenantDoc(input, randomUUID(), new Date());
    await uniquely(() => this.model.create(doc), `A tenant with slug "${input.slug}" already exists.`);
    return toTenant(doc);
  }

  async findById(id: string): Promise<Tenant | null> {
    const doc = await this.model.findById(id).lean<TenantDoc>().exec();
    return doc ? toTenant(doc) : null;
  }

  async findBySlug(slug: string): Promise<Tenant | null> {
    const doc = await this.model.findOne({ slug }).lean<TenantDoc>().exec();
    return doc ? toTenant(doc) : null;
  }

  async findByDomain(domain: string): Promise<Tenant[]> {
    return (await this.model.find({ domains: domain }).sort({ slug: 1 }).lean<TenantDoc[]>().exec()).map(toTenant);
  }

  async list(): Promise<Tenant[]> {
    return (await this.model.find({}).sort({ slug: 1 }).lean<TenantDoc[]>().exec()).map(toTenant);
  }

  async update(id: string, patch: Partial<Pick<Tenant, 'name' | 'domains'>>): Promise<Tenant | null> {
    const doc = await this.model
      .findOneAndUpdate({ _id: id }, tenantUpdate(patch, new Date()), { returnDocument: 'after' })
      .lean<TenantDoc>()
      .exec();
    return doc ? toTenant(doc) : null;
  }
}

export class MongoConnectionRepository implements ConnectionRepository {
  constructor(
    private readonly model: Model<ConnectionDoc>,
    private readonly identityLinks: Model<IdentityLinkDoc>,
    /** What SQLite's foreign keys do on delete for the SCIM data (tokens go, ownership is released). */
    private readonly onDelete: (connectionId: string) => Promise<void> = async () => {},
  ) {}

  async create(input: NewConnection): Promise<Connection> {
    const doc = newConnectionDoc(input, randomUUID(), new Date());
    await uniquely(() => this.model.create(doc), `A connection with slug "${input.slug}" already exists.`);
    return toConnection(doc);
  }

  async findById(id: string): Promise<Connection | null> {
    const doc = await this.model.findById(id).lean<ConnectionDoc>().exec();
    return doc ? toConnection(doc) : null;
  }

  async findBySlug(slug: string): Promise<Connection | null> {
    const doc = await this.model.findOne({ slug }).lean<ConnectionDoc>().exec();
    return doc ? toConnection(doc) : null;
  }

  async listByTenant(tenantId: string): Promise<Connection[]> {
    const docs = await this.model.find({ tenantId }).sort({ createdAt: 1, slug: 1 }).lean<ConnectionDoc[]>().exec();
    return docs.map(toConnection);
  }

  async update(id: string, patch: ConnectionPatch): Promise<Connection | null> {
    const doc = await this.model
      .findOneAndUpdate({ _id: id }, connectionUpdate(patch, new Date()), { returnDocument: 'after' })
      .lean<ConnectionDoc>()
      .exec();
    return doc ? toConnection(doc) : null;
  }

  async delete(id: string): Promise<boolean> {
    const { deletedCount } = await this.model.deleteOne({ _id: id }).exec();
    // No cascade in MongoDB: remove the links here. Runs even when the connection was already gone, so a delete
    // interrupted between the two steps is completed by retrying it.
    await this.identityLinks.deleteMany({ connectionId: id }).exec();
    await this.onDelete(id);
    return deletedCount > 0;
  }
}

export class MongoUserRepository implements UserRepository {
  constructor(private readonly model: Model<UserDoc>) {}

  async create(input: NewUser): Promise<User> {
    const doc = newUserDoc(input, randomUUID(), new Date());
    await uniquely(() => this.model.create(doc), `The username "${input.username}" is already taken in this tenant.`, 'username_taken');
    return toUser(doc);
  }

  async findById(id: string): Promise<User | null> {
    const doc = await this.model.findById(id).lean<UserDoc>().exec();
    return doc ? toUser(doc) : null;
  }

  async findByKey(tenantId: string, usernameKey: string): Promise<User | null> {
    const doc = await this.model.findOne(userKeyFilter(tenantId, usernameKey)).lean<UserDoc>().exec();
    return doc ? toUser(doc) : null;
  }

  async update(id: string, patch: UserPatch): Promise<User | null> {
    const doc = await uniquely(
      () => this.model.findOneAndUpdate({ _id: id }, userUpdate(patch, new Date()), { returnDocument: 'after' }).lean<UserDoc>().exec(),
      `The username "${patch.username ?? patch.usernameKey}" is already taken in this tenant.`,
      'username_taken',
    );
    return doc ? toUser(doc) : null;
  }

  async listByTenant(tenantId: string, page: PageRequest): Promise<Page<User>> {
    const query = usersByTenantQuery(tenantId, page);
    const [docs, total] = await Promise.all([findList(this.model, query), this.model.countDocuments(query.filter).exec()]);
    return { items: docs.map(toUser), total };
  }

  async search(tenantId: string, text: string, page: PageRequest): Promise<Page<User>> {
    const query = userSearchQuery(tenantId, text, page);
    const [docs, total] = await Promise.all([findList(this.model, query), this.model.countDocuments(query.filter).exec()]);
    return { items: docs.map(toUser), total };
  }
}

export class MongoIdentityLinkRepository implements IdentityLinkRepository {
  constructor(private readonly model: Model<IdentityLinkDoc>) {}

  async link(connectionId: string, subject: string, userId: string): Promise<IdentityLink> {
    const { filter, update } = identityLinkUpsert(connectionId, subject, userId, new Date());
    await upsertIfAbsent(() => this.model.updateOne(filter, update, { upsert: true }).exec());
    const doc = await this.model.findOne({ connectionId, subject }).lean<IdentityLinkDoc>().exec();
    if (!doc) throw new Error(`Identity link (${connectionId}, ${subject}) vanished right after it was written.`);
    return toIdentityLink(doc);
  }

  async findBySubject(connectionId: string, subject: string): Promise<IdentityLink | null> {
    const doc = await this.model.findOne({ connectionId, subject }).lean<IdentityLinkDoc>().exec();
    return doc ? toIdentityLink(doc) : null;
  }

  async listByUser(userId: string): Promise<IdentityLink[]> {
    const docs = await this.model.find({ userId }).sort({ createdAt: 1, connectionId: 1 }).lean<IdentityLinkDoc[]>().exec();
    return docs.map(toIdentityLink);
  }
}

export class MongoGroupRepository implements GroupRepository {
  constructor(private readonly model: Model<GroupDoc>) {}

  async ensure(tenantId: string, externalId: string, init: Pick<Group, 'displayName' | 'nameResolved'>): Promise<Group> {
    const { filter, update } = groupEnsureUpsert(tenantId, externalId, init, randomUUID(), new Date());
    // Two racing upserts: one inserts, the other either matches the new group or gets E11000; both then read it.
    await upsertIfAbsent(() => this.model.updateOne(filter, update, { upsert: true }).exec());
    const doc = await this.model.findOne({ tenantId, externalId }).lean<GroupDoc>().exec();
    if (!doc) throw new Error(`Group (${tenantId}, ${externalId}) vanished right after it was written.`);
    return toGroup(doc);
  }

  async findById(id: string): Promise<Group | null> {
    const doc = await this.model.findById(id).lean<GroupDoc>().exec();
    return doc ? toGroup(doc) : null;
  }

  async findByExternalId(tenantId: string, externalId: string): Promise<Group | null> {
    const doc = await this.model.findOne({ tenantId, externalId }).lean<GroupDoc>().exec();
    return doc ? toGroup(doc) : null;
  }

  async findByIds(ids: string[]): Promise<Group[]> {
    return (await findList(this.model, groupsByIdsQuery(ids))).map(toGroup);
  }

  async findByExternalIds(tenantId: string, externalIds: string[]): Promise<Group[]> {
    if (externalIds.length === 0) return [];
    const docs = await this.model.find(groupsByExternalIdsFilter(tenantId, externalIds)).lean<GroupDoc[]>().exec();
    return docs.map(toGroup);
  }

  async ensureMany(
    tenantId: string,
    items: { externalId: string; displayName: string; nameResolved: boolean }[],
  ): Promise<{ groups: Group[]; created: string[] }> {
    if (items.length === 0) return { groups: [], created: [] };
    const now = new Date();
    const ops = items.map((item) => {
      const { filter, update } = groupEnsureUpsert(tenantId, item.externalId, item, randomUUID(), now);
      return { updateOne: { filter, update, upsert: true } };
    });
    // Unordered: one racing duplicate does not stop the others; the re-read below sees the winners.
    let upserted: number[] = [];
    try {
      const result = await this.model.bulkWrite(ops as never, { ordered: false });
      upserted = Object.keys(result.upsertedIds).map(Number);
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
    const byExternalId = new Map((await this.findByExternalIds(tenantId, items.map((i) => i.externalId))).map((g) => [g.externalId, g]));
    return { groups: items.map((i) => byExternalId.get(i.externalId)!), created: upserted.map((index) => items[index]!.externalId) };
  }

  async rename(id: string, displayName: string): Promise<Group | null> {
    const doc = await this.model
      .findOneAndUpdate({ _id: id }, groupRename(displayName, new Date()), { returnDocument: 'after' })
      .lean<GroupDoc>()
      .exec();
    return doc ? toGroup(doc) : null;
  }

  async listByTenant(tenantId: string, page: PageRequest): Promise<Page<Group>> {
    const query = groupsByTenantQuery(tenantId, page);
    const [docs, total] = await Promise.all([findList(this.model, query), this.model.countDocuments(query.filter).exec()]);
    return { items: docs.map(toGroup), total };
  }

  async search(tenantId: string, text: string, page: PageRequest): Promise<Page<Group>> {
    const query = groupSearchQuery(tenantId, text, page);
    const [docs, total] = await Promise.all([findList(this.model, query), this.model.countDocuments(query.filter).exec()]);
    return { items: docs.map(toGroup), total };
  }
}

export class MongoMembershipRepository implements MembershipRepository {
  constructor(private readonly model: Model<MembershipDoc>) {}

  async add(userId: string, groupId: string, source: string): Promise<boolean> {
    const { filter, update } = membershipUpsert(userId, groupId, source, new Date());
    try {
      const result = await this.model.updateOne(filter, update, { upsert: true }).exec();
      return result.upsertedCount === 1;
    } catch (error) {
      // A concurrent add of the same membership won the insert.
      if (isDuplicateKeyError(error)) return false;
      throw error;
    }
  }

  async remove(userId: string, groupId: string, source: string): Promise<boolean> {
    const { deletedCount } = await this.model.deleteOne(membershipKey(userId, groupId, source)).exec();
    return deletedCount > 0;
  }

  async listByUser(userId: string): Promise<Membership[]> {
    const docs = await this.model.find({ userId }).sort({ createdAt: 1, groupId: 1, source: 1 }).lean<MembershipDoc[]>().exec();
    return docs.map(toMembership);
  }

  async syncSource(userId: string, source: string, groupIds: string[], mode: 'sync' | 'append'): Promise<{ added: string[]; removed: string[] }> {
    const current = (await this.model.find({ userId, source }).lean<MembershipDoc[]>().exec()).map((m) => m.groupId);
    const plan = membershipSyncPlan(current, groupIds, mode);
    const now = new Date();
    const ops = [
      ...plan.add.map((groupId) => {
        const { filter, update } = membershipUpsert(userId, groupId, source, now);
        return { updateOne: { filter, update, upsert: true } };
      }),
      ...plan.remove.map((groupId) => ({ deleteOne: { filter: membershipKey(userId, groupId, source) } })),
    ];
    if (ops.length > 0) {
      try {
        await this.model.bulkWrite(ops as never, { ordered: false });
      } catch (error) {
        // A concurrent add of the same membership: it exists either way.
        if (!isDuplicateKeyError(error)) throw error;
      }
    }
    return { added: plan.add, removed: plan.remove };
  }
}

export class MongoEventRepository implements EventRepository {
  constructor(private readonly model: Model<EventDoc>) {}

  async append(event: NewEvent): Promise<ProvisioningEvent> {
    const doc = newEventDoc(event, randomUUID(), new Types.ObjectId().toHexString());
    await this.model.create(doc);
    return toEvent(doc);
  }

  private pending: NewEvent[] = [];
  private flush: Promise<void> | null = null;

  /**
   * The entries of every call made in the same turn of the event loop go to MongoDB in one insertMany (a SCIM sync
   * finishes many requests per turn); each caller's promise settles when that write has.
   */
  appendMany(events: NewEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    this.pending.push(...events);
    this.flush ??= new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
      const batch = this.pending;
      this.pending = [];
      this.flush = null;
      await this.model.insertMany(
        batch.map((event) => newEventDoc(event, randomUUID(), new Types.ObjectId().toHexString())),
        { ordered: true },
      );
    });
    return this.flush;
  }

  async list(query: EventQuery): Promise<ProvisioningEvent[]> {
    return (await findList(this.model, eventListQuery(query))).map(toEvent);
  }

  async deleteOlderThan(cutoff: Date): Promise<number> {
    return (await this.model.deleteMany(eventsOlderThan(cutoff)).exec()).deletedCount;
  }
}

export class MongoOnceCache implements OnceCache {
  constructor(private readonly model: Model<ReplayDoc>) {}

  async claim(key: string, expiresAt: Date): Promise<boolean> {
    const { filter, update } = replayClaim(key, expiresAt, new Date());
    try {
      return claimSucceeded(await this.model.updateOne(filter, update, { upsert: true }).exec());
    } catch (error) {
      // The key exists and is alive (or a concurrent claim inserted it first): already claimed.
      if (isDuplicateKeyError(error)) return false;
      throw error;
    }
  }

  async purgeExpired(now: Date = new Date()): Promise<number> {
    return (await this.model.deleteMany(expiredBy(now)).exec()).deletedCount;
  }
}

export class MongoExpiringMap implements ExpiringMap {
  constructor(private readonly model: Model<RequestDoc>) {}

  async put(key: string, value: string, expiresAt: Date): Promise<void> {
    const { filter, update } = requestPut(key, value, expiresAt);
    try {
      await this.model.updateOne(filter, update, { upsert: true }).exec();
    } catch (error) {
      // Two puts of a new key raced; the loser's value must still land: the key now exists, so update it.
      if (!isDuplicateKeyError(error)) throw error;
      await this.model.updateOne(filter, update).exec();
    }
  }

  async get(key: string): Promise<string | null> {
    const doc = await this.model.findOne(liveRequest(key, new Date())).lean<RequestDoc>().exec();
    return doc?.value ?? null;
  }

  async take(key: string): Promise<string | null> {
    // findOneAndDelete is atomic: of two concurrent takes, only one gets the document back.
    const doc = await this.model.findOneAndDelete(liveRequest(key, new Date())).lean<RequestDoc>().exec();
    return doc?.value ?? null;
  }

  async delete(key: string): Promise<void> {
    await this.model.deleteOne({ _id: key }).exec();
  }

  async purgeExpired(now: Date = new Date()): Promise<number> {
    return (await this.model.deleteMany(expiredBy(now)).exec()).deletedCount;
  }
}

/** Every repository of a store, on one set of models. */
export function createMongoRepositories(models: MongoModels) {
  return {
    tenants: new MongoTenantRepository(models.tenants),
    connections: new MongoConnectionRepository(models.connections, models.identityLinks, async (connectionId) => {
      await models.scimTokens.deleteMany({ connectionId }).exec();
      await models.scimClients.deleteMany({ connectionId }).exec();
      await models.users.updateMany({ scimConnectionId: connectionId }, { $set: { scimConnectionId: null } }).exec();
      await models.groups.updateMany({ scimConnectionId: connectionId }, { $set: { scimConnectionId: null } }).exec();
    }),
    users: new MongoUserRepository(models.users),
    identityLinks: new MongoIdentityLinkRepository(models.identityLinks),
    groups: new MongoGroupRepository(models.groups),
    memberships: new MongoMembershipRepository(models.memberships),
    events: new MongoEventRepository(models.events),
    replayCache: new MongoOnceCache(models.replayCache),
    requestCache: new MongoExpiringMap(models.requestCache),
  };
}
