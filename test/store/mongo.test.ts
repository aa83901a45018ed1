/**
 * The storage contract on MongoDB. No MongoDB server can be installed on the build machines, so the contract runs
 * only where MONGODB_URI points at one (e.g. MONGODB_URI=mongodb://localhost:27017 npm test); each run uses its own
 * database and drops it afterwards. Without MONGODB_URI one test says plainly that the suite was not run.
 */
import { randomUUID } from 'node:crypto';
import { openMongoStore } from '../../src/store/mongo';
import { runStoreContract } from './contract';
import { runMatchingContract } from './matching-contract';
import { runScimContract } from './scim-contract';

const mongoUri = process.env.MONGODB_URI?.trim();

if (mongoUri) {
  const dbName = `gatehouse_test_${Date.now()}_${randomUUID().slice(0, 8)}`;

  runStoreContract(`mongo (${dbName})`, () => openMongoStore(mongoUri, { dbName }));
  runMatchingContract(`mongo (${dbName})`, () => openMongoStore(mongoUri, { dbName }));
  runScimContract(`mongo (${dbName})`, () => openMongoStore(mongoUri, { dbName }));

  afterAll(async () => {
    const store = await openMongoStore(mongoUri, { dbName });
    await store.connection.dropDatabase();
    await store.close();
  });
} else {
  it('mongo contract suite skipped: MONGODB_URI is not set (no MongoDB server on this machine)', () => {
    // Not a misconfiguration: the variable is simply absent, and the adapter still loads (it is type-checked and its
    // query builders are unit-tested in mongo-queries.test.ts).
    expect(mongoUri).toBeFalsy();
    expect(typeof openMongoStore).toBe('function');
  });
}

describe('mongo adapter without a server', () => {
  it('fails to open with a connection error (and releases the connection) when no server answers', async () => {
    await expect(
      openMongoStore('mongodb://127.0.0.1:1/gatehouse', { serverSelectionTimeoutMS: 300 }),
    ).rejects.toThrow(/ECONNREFUSED|connect|Server selection/i);
  });
});
