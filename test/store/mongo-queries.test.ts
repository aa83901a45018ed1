/**
 * The MongoDB adapter's pure query builders and document mappers (no server needed), and the mongoose schemas'
 * acceptance of the documents those builders produce.
 */
import { groupsByExternalIdsFilter, membershipSyncPlan } from '../../src/store/mongo/queries';
import mongoose from 'mongoose';
import { bindModels, COLLECTIONS } from '../../src/store/mongo/models';
import {
  claimSucceeded,
  connectionUpdate,
  definedOnly,
  eventListQuery,
  eventsOlderThan,
  expiredBy,
  expiredSessions,
  groupEnsureUpsert,
  groupRename,
  groupsByIdsQuery,
  groupsByTenantQuery,
  identityLinkUpsert,
  isDuplicateKeyError,
  liveRequest,
  membershipUpsert,
  newConnectionDoc,
  newEventDoc,
  newTenantDoc,
  newUserDoc,
  pageWindow,
  replayClaim,
  requestPut,
  sessionsOfUser,
  tenantUpdate,
  toConnection,
  toEvent,
  toGroup,
  toTenant,
  toUser,
  userUpdate,
  usersByTenantQuery,
  type ConnectionDoc,
  type EventDoc,
} from '../../src/store/mongo/queries';
import { sampleIdp, sampleSettings } from './contract';

const NOW = new Date('2025-07-08T09:10:11.123Z');
const LATER = new Date('2025-07-08T09:15:11.123Z');

describe('mongo queries: errors and helpers', () => {
  it('recognises duplicate key errors however they are wrapped', () => {
    expect(isDuplicateKeyError({ code: 11000, message: 'E11000 duplicate key error' })).toBe(true);
    expect(isDuplicateKeyError({ code: 11001 })).toBe(true);
    expect(isDuplicateKeyError({ writeErrors: [{ code: 11000 }] })).toBe(true);
    expect(isDuplicateKeyError({ writeErrors: [{ err: { code: 11000 } }] })).toBe(true);
    expect(isDuplicateKeyError({ code: 112 })).toBe(false);
    expect(isDuplicateKeyError(new Error('E11000 in a message only'))).toBe(false);
    expect(isDuplicateKeyError(null)).toBe(false);
    expect(isDuplicateKeyError('11000')).toBe(false);
  });

  it('definedOnly drops undefined but keeps null and false', () => {
    expect(definedOnly({ a: undefined, b: null, c: false, d: 0, e: 'x' })).toEqual({ b: null, c: false, d: 0, e: 'x' });
    expect(Object.keys(definedOnly({ a: undefined }))).toEqual([]);
  });

  it('pageWindow clamps and truncates', () => {
    expect(pageWindow({ offset: 20, limit: 10 })).toEqual({ skip: 20, limit: 10 });
    expect(pageWindow({ offset: -5, limit: 2.9 })).toEqual({ skip: 0, limit: 2 });
    expect(pageWindow({ offset: 0, limit: -1 })).toEqual({ skip: 0, limit: 0 });
  });
});

describe('mongo queries: tenants, connections, users', () => {
  it('builds a tenant document and maps it back', () => {
    const doc = newTenantDoc({ slug: 'contoso', name: 'Contoso', domains: ['contoso.com'] }, 'id-1', NOW);
    expect(doc).toEqual({ _id: 'id-1', slug: 'contoso', name: 'Contoso', domains: ['contoso.com'], createdAt: NOW, updatedAt: NOW });
    expect(toTenant(doc)).toEqual({ id: 'id-1', slug: 'contoso', name: 'Contoso', domains: ['contoso.com'], createdAt: NOW, updatedAt: NOW });
  });

  it('tenant updates set only what was patched, plus updatedAt', () => {
    expect(tenantUpdate({ name: 'New' }, LATER)).toEqual({ $set: { name: 'New', updatedAt: LATER } });
    expect(tenantUpdate({ domains: [] }, LATER)).toEqual({ $set: { domains: [], updatedAt: LATER } });
  });

  it('connections start at version 1 and every update increments it in the same statement', () => {
    const doc = newConnectionDoc(
      { tenantId: 't', slug: 'entra', name: 'Entra', spEntityId: 'sp', idp: sampleIdp(), settings: sampleSettings() },
      'c-1',
      NOW,
    );
    expect(doc).toMatchObject({ _id: 'c-1', version: 1, createdAt: NOW, updatedAt: NOW });
    expect(connectionUpdate({ name: 'Okta' }, LATER)).toEqual({ $set: { name: 'Okta', updatedAt: LATER }, $inc: { version: 1 } });
    const settings = sampleSettings({ matchBy: 'email' });
    expect(connectionUpdate({ settings, name: undefined }, LATER)).toEqual({ $set: { settings, updatedAt: LATER }, $inc: { version: 1 } });
  });

  it('maps a connection back with its idp Dates, whether stored as BSON dates or as strings', () => {
    const doc = newConnectionDoc(
      { tenantId: 't', slug: 'entra', name: 'Entra', spEntityId: 'sp', idp: sampleIdp(), settings: sampleSettings() },
      'c-1',
      NOW,
    );
    expect(toConnection(doc).idp).toEqual(sampleIdp());
    const asJson = JSON.parse(JSON.stringify(doc)) as ConnectionDoc;
    const revived = toConnection({ ...asJson, createdAt: NOW, updatedAt: NOW });
    expect(revived.idp).toEqual(sampleIdp());
    expect(revived.idp.certs[0].notBefore).toBeInstanceOf(Date);
    expect(revived).toMatchObject({ id: 'c-1', version: 1, settings: sampleSettings() });
  });

  it('builds user documents, partial updates and the paging query', () => {
    const doc = newUserDoc(
      {
        tenantId: 't',
        username: 'Ada@Contoso.com',
        usernameKey: 'ada@contoso.com',
        email: null,
        givenName: 'Ada',
        familyName: null,
        displayName: null,
        fullName: 'Ada',
        active: true,
      },
      'u-1',
      NOW,
    );
    expect(doc.lastLoginAt).toBeNull();
    expect(toUser(doc)).toMatchObject({ id: 'u-1', usernameKey: 'ada@contoso.com', email: null, lastLoginAt: null, active: true });
    expect(userUpdate({ email: null, active: false, username: undefined, lastLoginAt: NOW }, LATER)).toEqual({
      $set: { email: null, emailFold: null, active: false, lastLoginAt: NOW, updatedAt: LATER },
      $inc: { version: 1 },
    });
    // Folded copies follow the fields SCIM filters compare case-insensitively (Unicode lower-casing, not ASCII).
    expect(userUpdate({ displayName: 'ÄDA' }, LATER).$set).toMatchObject({ displayName: 'ÄDA', displayNameFold: 'äda' });
    expect(doc).toMatchObject({ version: 1, givenNameFold: 'ada', familyNameFold: null, displayNameFold: null });
    expect(usersByTenantQuery('t', { offset: 40, limit: 20 })).toEqual({
      filter: { tenantId: 't' },
      sort: { createdAt: 1, _id: 1 },
      skip: 40,
      limit: 20,
    });
  });
});

describe('mongo queries: links, groups, memberships', () => {
  it('links and group ensures are insert-if-absent upserts keyed by their unique index', () => {
    expect(identityLinkUpsert('c', 'oid', 'u', NOW)).toEqual({
      filter: { connectionId: 'c', subject: 'oid' },
      update: { $setOnInsert: { connectionId: 'c', subject: 'oid', userId: 'u', createdAt: NOW } },
    });
    const ensure = groupEnsureUpsert('t', 'guid', { displayName: 'guid', nameResolved: false }, 'g-1', NOW);
    expect(ensure.filter).toEqual({ tenantId: 't', externalId: 'guid' });
    // Nothing outside $setOnInsert: an existing group's name is never overwritten.
    expect(Object.keys(ensure.update)).toEqual(['$setOnInsert']);
    expect(ensure.update.$setOnInsert).toMatchObject({ _id: 'g-1', displayName: 'guid', nameResolved: false, createdAt: NOW });
    expect(membershipUpsert('u', 'g', 'saml:c', NOW)).toEqual({
      filter: { userId: 'u', groupId: 'g', source: 'saml:c' },
      update: { $setOnInsert: { userId: 'u', groupId: 'g', source: 'saml:c', createdAt: NOW } },
    });
  });

  it('rename marks the name resolved', () => {
    expect(groupRename('Finance', LATER)).toEqual({
      $set: { displayName: 'Finance', displayNameFold: 'finance', nameResolved: true, updatedAt: LATER },
      $inc: { version: 1 },
    });
  });

  it('findByIds queries each id once; group pages are ordered by creation', () => {
    expect(groupsByIdsQuery(['a', 'b', 'a'])).toEqual({ filter: { _id: { $in: ['a', 'b'] } }, sort: { displayName: 1, _id: 1 }, skip: 0, limit: 2 });
    expect(groupsByTenantQuery('t', { offset: 0, limit: 5 })).toMatchObject({ filter: { tenantId: 't' }, skip: 0, limit: 5 });
    const g = toGroup({ _id: 'g', tenantId: 't', externalId: 'e', displayName: 'D', nameResolved: true, createdAt: NOW, updatedAt: LATER });
    expect(g).toEqual({ id: 'g', tenantId: 't', externalId: 'e', displayName: 'D', nameResolved: true, createdAt: NOW, updatedAt: LATER });
  });
});

describe('mongo queries: events', () => {
  it('lists newest first with only the filters given', () => {
    expect(eventListQuery({ limit: 50 })).toEqual({ filter: {}, sort: { at: -1, seq: -1 }, skip: 0, limit: 50 });
    expect(eventListQuery({ connectionId: 'c', limit: 10 }).filter).toEqual({ connectionId: 'c' });
    expect(
      eventListQuery({ tenantId: 't', connectionId: 'c', channel: 'scim', outcome: 'refused', before: NOW, limit: 10.7 }),
    ).toEqual({
      filter: { tenantId: 't', connectionId: 'c', channel: 'scim', outcome: 'refused', at: { $lt: NOW } },
      sort: { at: -1, seq: -1 },
      skip: 0,
      limit: 10,
    });
    // Key order is the sort priority.
    expect(Object.keys(eventListQuery({ limit: 1 }).sort)).toEqual(['at', 'seq']);
  });

  it('deletes strictly older events', () => {
    expect(eventsOlderThan(NOW)).toEqual({ at: { $lt: NOW } });
  });

  it('builds an event document and maps it back', () => {
    const doc = newEventDoc(
      {
        tenantId: null,
        connectionId: 'c',
        channel: 'saml',
        type: 'login',
        outcome: 'success',
        subject: 'ada',
        reason: null,
        details: { groups: 3 },
        at: NOW,
      },
      'e-1',
      '65a000000000000000000001',
    );
    expect(doc).toMatchObject({ _id: 'e-1', seq: '65a000000000000000000001', details: { groups: 3 } });
    expect(toEvent(doc)).toEqual({
      id: 'e-1',
      tenantId: null,
      connectionId: 'c',
      channel: 'saml',
      type: 'login',
      outcome: 'success',
      subject: 'ada',
      reason: null,
      details: { groups: 3 },
      at: NOW,
    });
    // A document stored without optional fields (minimised by an older writer) still maps to the domain shape.
    const sparse = { _id: 'e-2', seq: 's', channel: 'admin', type: 't', outcome: 'info', at: NOW } as unknown as EventDoc;
    expect(toEvent(sparse)).toMatchObject({ tenantId: null, connectionId: null, subject: null, reason: null, details: {} });
  });

  it('seq values from ObjectIds sort in creation order as hex strings', () => {
    const seqs = Array.from({ length: 50 }, () => new mongoose.Types.ObjectId().toHexString());
    expect([...seqs].sort()).toEqual(seqs);
  });
});

describe('mongo queries: replay and request caches, sessions', () => {
  it('a claim matches only an expired entry, and inserts the key when there is none', () => {
    expect(replayClaim('conn:_a1', LATER, NOW)).toEqual({
      filter: { _id: 'conn:_a1', expiresAt: { $lte: NOW } },
      update: { $set: { expiresAt: LATER } },
    });
  });

  it('a claim succeeded when the upsert inserted or took over an expired entry', () => {
    expect(claimSucceeded({ upsertedCount: 1, matchedCount: 0 })).toBe(true);
    expect(claimSucceeded({ upsertedCount: 0, matchedCount: 1 })).toBe(true);
    expect(claimSucceeded({ upsertedCount: 0, matchedCount: 0 })).toBe(false);
  });

  it('request cache: put upserts the value and expiry; reads and takes match only live entries', () => {
    expect(requestPut('_req1', '{"r":1}', LATER)).toEqual({ filter: { _id: '_req1' }, update: { $set: { value: '{"r":1}', expiresAt: LATER } } });
    expect(liveRequest('_req1', NOW)).toEqual({ _id: '_req1', expiresAt: { $gt: NOW } });
    expect(expiredBy(NOW)).toEqual({ expiresAt: { $lte: NOW } });
  });

  it('sessions: per-user revocation reads passport.user inside the connect-mongo document', () => {
    expect(sessionsOfUser('u-1')).toEqual({ 'session.passport.user': 'u-1' });
    expect(sessionsOfUser('u-1', 'c-1')).toEqual({ 'session.passport.user': 'u-1', 'session.connectionId': 'c-1' });
    expect(expiredSessions(NOW)).toEqual({ expires: { $lte: NOW } });
  });
});

describe('mongo models (no server: schema validation and index definitions only)', () => {
  const connection = mongoose.createConnection();
  const models = bindModels(connection);

  afterAll(async () => {
    await connection.close();
  });

  it('accepts the documents the builders produce, keeping Dates and empty objects', async () => {
    const tenant = new models.tenants(newTenantDoc({ slug: 's', name: 'n', domains: [] }, 't-1', NOW));
    await expect(tenant.validate()).resolves.toBeUndefined();
    const connectionDoc = new models.connections(
      newConnectionDoc({ tenantId: 't-1', slug: 's', name: 'n', spEntityId: 'sp', idp: sampleIdp(), settings: sampleSettings() }, 'c-1', NOW),
    );
    await expect(connectionDoc.validate()).resolves.toBeUndefined();
    expect(connectionDoc.toObject().idp.certs[0].notAfter).toBeInstanceOf(Date);
    const user = new models.users(
      newUserDoc(
        { tenantId: 't-1', username: 'a', usernameKey: 'a', email: null, givenName: null, familyName: null, displayName: null, fullName: 'a', active: true },
        'u-1',
        NOW,
      ),
    );
    await expect(user.validate()).resolves.toBeUndefined();
    const eventDoc = new models.events(
      newEventDoc(
        { tenantId: null, connectionId: null, channel: 'admin', type: 't', outcome: 'info', subject: null, reason: null, details: {}, at: NOW },
        'e-1',
        'seq',
      ),
    );
    await expect(eventDoc.validate()).resolves.toBeUndefined();
    // minimize: false, so an empty details object is stored, not dropped.
    expect(eventDoc.toObject().details).toEqual({});
  });

  it('rejects a document missing a required field', async () => {
    const broken = new models.users({ _id: 'u', tenantId: 't' });
    await expect(broken.validate()).rejects.toMatchObject({ errors: { usernameKey: expect.anything() } });
  });

  it('declares the unique and TTL indexes the contract relies on', () => {
    const indexes = (name: keyof typeof models) => models[name].schema.indexes();
    expect(indexes('users')).toContainEqual([{ tenantId: 1, usernameKey: 1 }, expect.objectContaining({ unique: true, collation: { locale: 'simple' } })]);
    expect(indexes('identityLinks')).toContainEqual([{ connectionId: 1, subject: 1 }, expect.objectContaining({ unique: true })]);
    expect(indexes('groups')).toContainEqual([{ tenantId: 1, externalId: 1 }, expect.objectContaining({ unique: true })]);
    expect(indexes('memberships')).toContainEqual([{ userId: 1, groupId: 1, source: 1 }, expect.objectContaining({ unique: true })]);
    expect(indexes('tenants')).toContainEqual([{ slug: 1 }, expect.objectContaining({ unique: true })]);
    expect(indexes('connections')).toContainEqual([{ slug: 1 }, expect.objectContaining({ unique: true })]);
    expect(indexes('events')).toContainEqual([{ connectionId: 1, at: -1, seq: -1 }, expect.anything()]);
    expect(indexes('events')).toContainEqual([{ tenantId: 1, at: -1, seq: -1 }, expect.anything()]);
    expect(indexes('replayCache')).toContainEqual([{ expiresAt: 1 }, expect.objectContaining({ expireAfterSeconds: 0 })]);
    expect(indexes('requestCache')).toContainEqual([{ expiresAt: 1 }, expect.objectContaining({ expireAfterSeconds: 0 })]);
  });

  it('binds fixed collection names', () => {
    expect(models.identityLinks.collection.collectionName).toBe(COLLECTIONS.identityLinks);
    expect(models.replayCache.collection.collectionName).toBe('replay_cache');
    expect(models.users.collection.collectionName).toBe('users');
  });
});

describe('batched-write builders', () => {
  it('plans a membership sync as the difference, removing only in sync mode', () => {
    expect(membershipSyncPlan(['a', 'b'], ['b', 'c', 'c'], 'sync')).toEqual({ add: ['c'], remove: ['a'] });
    expect(membershipSyncPlan(['a', 'b'], ['b', 'c'], 'append')).toEqual({ add: ['c'], remove: [] });
    expect(membershipSyncPlan([], [], 'sync')).toEqual({ add: [], remove: [] });
  });

  it('filters groups by tenant and a de-duplicated external id list', () => {
    expect(groupsByExternalIdsFilter('t1', ['x', 'y', 'x'])).toEqual({ tenantId: 't1', externalId: { $in: ['x', 'y'] } });
  });
});
