/**
 * The worker-thread validation pool (src/saml/validation-pool.ts): the same answers as inline validation, for
 * accepted and refused responses; crashed or hung workers replaced without turning a failure into a refusal;
 * FIFO order and a bounded queue; close(); and the replay guarantees of the ACS with validation on workers.
 */
import path from 'node:path';
import type { Connection } from '../../src/provisioning/types';
import { SamlRefusal } from '../../src/saml/refusal';
import { ResponseValidator, validatorSettingsFor, type ValidationJob } from '../../src/saml/validation-core';
import { ValidationPool, ValidationPoolBusyError, ValidationWorkerError } from '../../src/saml/validation-pool';
import { randomRequestId, type ResponseOptions } from '../helpers/test-idp';
import { BASE_URL, createAcsHarness, type AcsHarness } from './acs-harness';

const MISBEHAVING_WORKER = path.resolve(__dirname, '../helpers/misbehaving-validation-worker.js');
const MINUTE = 60_000;
const ago = (ms: number) => new Date(Date.now() - ms);
const fromNow = (ms: number) => new Date(Date.now() + ms);

const SERVICE = { baseUrl: BASE_URL, clockSkewMs: 180_000, maxAssertionAgeMs: 300_000 };

function jobFor(connection: Connection, samlResponse: string): ValidationJob {
  return { connectionId: connection.id, settingsJson: JSON.stringify(validatorSettingsFor(connection, SERVICE)), samlResponse };
}

/** What validateAcsPost did, in a comparable form. */
async function settle(promise: Promise<unknown>): Promise<unknown> {
  try {
    return { accepted: await promise };
  } catch (error) {
    if (error instanceof SamlRefusal) return { refused: error.reason, detail: error.detail };
    throw error;
  }
}

let inline: AcsHarness;
let pooled: AcsHarness;
let pool: ValidationPool;
const pools: ValidationPool[] = [];

function newPool(options: Partial<ConstructorParameters<typeof ValidationPool>[0]> = {}): ValidationPool {
  const p = new ValidationPool({ size: 1, ...options });
  pools.push(p);
  return p;
}

beforeEach(async () => {
  pool = newPool({ size: 2 });
  inline = await createAcsHarness({ validationPool: null });
  pooled = await createAcsHarness({ validationPool: pool });
});
afterEach(async () => {
  await Promise.all([inline.close(), pooled.close(), ...pools.splice(0).map((p) => p.close())]);
});

describe('the same answers as inline validation', () => {
  const cases: Array<[string, Partial<Connection['settings']>, ResponseOptions, string]> = [
    ['an Entra-style response (signed assertion)', {}, {}, 'accepted'],
    ['a signed Response, required by the connection', { wantAuthnResponseSigned: true }, { sign: 'response' }, 'accepted'],
    ['a signature by an unknown key', {}, { key: 'idp-rogue' }, 'signature_invalid'],
    ['a signed Response where the connection requires it, but only the assertion signed', { wantAuthnResponseSigned: true }, {}, 'signature_missing'],
    ['another audience', {}, { audience: 'https://someone-else.example/' }, 'audience_mismatch'],
    ['expired Conditions', {}, { notOnOrAfter: ago(4 * MINUTE) }, 'expired'],
    ['Conditions not valid yet', {}, { notBefore: fromNow(10 * MINUTE) }, 'not_yet_valid'],
    ['an unsolicited response, IdP-initiated login off', { allowIdpInitiated: false }, {}, 'unsolicited_response'],
    [
      'a Response whose InResponseTo differs from the signed one',
      { allowIdpInitiated: false },
      { inResponseTo: randomRequestId(), subjectInResponseTo: randomRequestId() },
      'unknown_in_response_to',
    ],
    ['an InResponseTo Gatehouse never issued', { allowIdpInitiated: false }, { inResponseTo: randomRequestId() }, 'unknown_in_response_to'],
  ];

  it.each(cases)('%s', async (_name, settings, responseOptions, expected) => {
    // One connection object (same id) for both services, so the answers are comparable field by field.
    const { connection, sp } = inline.connection({ settings });
    const body = inline.idp.postBody(sp, responseOptions);
    const viaInline = await settle(inline.saml.validateAcsPost(connection, body));
    const viaPool = await settle(pooled.saml.validateAcsPost(connection, body));
    expect(viaPool).toEqual(viaInline);
    if (expected === 'accepted') expect(viaPool).toHaveProperty('accepted.assertionId');
    else expect(viaPool).toMatchObject({ refused: expected });
  });

  it('returns identical stage-2 outcomes, including for responses the pre-flight would have stopped', async () => {
    const { connection, sp } = inline.connection();
    const validator = new ResponseValidator();
    const responses = [
      inline.idp.buildResponse(sp).samlResponse,
      inline.idp.buildResponse(sp, { user: { groups: [] }, extraAttributes: { 'urn:x:empty': [] } }).samlResponse,
      inline.idp.buildResponse(sp, { key: 'idp-rogue' }).samlResponse,
      inline.idp.buildResponse(sp, { sign: 'none' }).samlResponse,
      inline.idp.buildResponse(sp, { subjectNotOnOrAfter: ago(MINUTE), inResponseTo: randomRequestId() }).samlResponse,
      Buffer.from('<not-saml/>').toString('base64'),
      'bm90IHhtbA==',
    ];
    for (const samlResponse of responses) {
      const job = jobFor(connection, samlResponse);
      const [a, b] = await Promise.all([validator.validate(job), pool.validate(job)]);
      expect(b).toEqual(a);
    }
    expect((await pool.validate(jobFor(connection, responses[0]!))).ok).toBe(true);
  });

  it('builds a new node-saml instance when the connection changes (certificate rollover)', async () => {
    const { connection, sp } = inline.connection({ certs: ['idp-signing-1'] });
    const response = inline.idp.buildResponse(sp, { key: 'idp-signing-1' }).samlResponse;
    await expect(pool.validate(jobFor(connection, response))).resolves.toMatchObject({ ok: true });
    const rolled: Connection = { ...connection, version: connection.version + 1, idp: inline.idp.descriptor(['idp-signing-2']) };
    // Both workers saw the old version at most once; every one of them must now refuse the old key.
    const outcomes = await Promise.all([1, 2, 3, 4].map(() => pool.validate(jobFor(rolled, response))));
    for (const outcome of outcomes) expect(outcome).toMatchObject({ ok: false, reason: 'signature_invalid' });
  });

  it('caches one node-saml instance per connection, replaced on a new version', async () => {
    const validator = new ResponseValidator();
    const a = inline.connection({ slug: 'a' });
    const b = inline.connection({ slug: 'b' });
    await validator.validate(jobFor(a.connection, inline.idp.buildResponse(a.sp).samlResponse));
    await validator.validate(jobFor(b.connection, inline.idp.buildResponse(b.sp).samlResponse));
    await validator.validate(jobFor({ ...a.connection, version: 2 }, inline.idp.buildResponse(a.sp).samlResponse));
    expect(validator.size).toBe(2);
  });
});

describe('replay with validation on workers', () => {
  it('lets exactly one of many concurrent posts of one IdP-initiated response through', async () => {
    const { connection, sp } = pooled.connection();
    const body = pooled.idp.postBody(sp);
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => pooled.saml.validateAcsPost(connection, body)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') expect(r.reason).toMatchObject({ name: 'SamlRefusal', reason: 'replayed' });
    }
  });

  it('lets exactly one of many concurrent posts of one SP-initiated response through', async () => {
    const { connection, sp } = pooled.connection({ settings: { allowIdpInitiated: false } });
    const { requestId } = await pooled.saml.createLoginRedirect(connection, { returnTo: '/home' });
    const body = pooled.idp.postBody(sp, { inResponseTo: requestId });
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => pooled.saml.validateAcsPost(connection, body)));
    const accepted = results.filter((r): r is PromiseFulfilledResult<Awaited<ReturnType<typeof pooled.saml.validateAcsPost>>> => r.status === 'fulfilled');
    expect(accepted).toHaveLength(1);
    expect(accepted[0]!.value).toMatchObject({ inResponseTo: requestId, returnTo: '/home' });
    for (const r of results) {
      if (r.status === 'rejected') expect(r.reason).toMatchObject({ name: 'SamlRefusal' });
    }
  });

  it('lets exactly one of two different assertions answering one request through', async () => {
    const { connection, sp } = pooled.connection({ settings: { allowIdpInitiated: false } });
    const { requestId } = await pooled.saml.createLoginRedirect(connection, {});
    const bodies = [pooled.idp.postBody(sp, { inResponseTo: requestId }), pooled.idp.postBody(sp, { inResponseTo: requestId })];
    const results = await Promise.allSettled(bodies.map((body) => pooled.saml.validateAcsPost(connection, body)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { name: 'SamlRefusal', reason: 'unknown_in_response_to' } });
  });
});

describe('scheduling', () => {
  it('runs jobs in arrival order on one worker', async () => {
    const single = newPool({ size: 1, maxInFlightPerWorker: 1 });
    const { connection, sp } = inline.connection();
    const jobs = Array.from({ length: 8 }, (_, i) => jobFor(connection, inline.idp.buildResponse(sp, { assertionId: `_order-${i}` }).samlResponse));
    const finished: string[] = [];
    await Promise.all(
      jobs.map((job) =>
        single.validate(job).then((outcome) => {
          if (!outcome.ok) throw new Error(`refused: ${outcome.reason}`);
          finished.push(outcome.response.facts.id);
        }),
      ),
    );
    expect(finished).toEqual(jobs.map((_, i) => `_order-${i}`));
  });

  it('keeps arrival order with several jobs handed to one worker at a time', async () => {
    const single = newPool({ size: 1, maxInFlightPerWorker: 3 });
    const { connection, sp } = inline.connection();
    const ids = Array.from({ length: 7 }, (_, i) => `_piped-${i}`);
    const finished: string[] = [];
    await Promise.all(
      ids.map((id) =>
        single.validate(jobFor(connection, inline.idp.buildResponse(sp, { assertionId: id }).samlResponse)).then((outcome) => {
          finished.push(outcome.ok ? outcome.response.facts.id : outcome.reason);
        }),
      ),
    );
    expect(finished).toEqual(ids);
  });

  it('spreads concurrent jobs over every worker and answers each one', async () => {
    const wide = newPool({ size: 2, maxInFlightPerWorker: 1 });
    const { connection, sp } = inline.connection();
    const ids = Array.from({ length: 10 }, (_, i) => `_spread-${i}`);
    const pending = ids.map((id) => wide.validate(jobFor(connection, inline.idp.buildResponse(sp, { assertionId: id }).samlResponse)));
    expect(wide.stats().workers.map((w) => w.inFlight)).toEqual([1, 1]);
    expect(wide.stats().queued).toBe(8);
    const outcomes = await Promise.all(pending);
    expect(outcomes.map((o) => (o.ok ? o.response.facts.id : o.reason))).toEqual(ids);
  });

  it('refuses work beyond the bounded queue with a 503, and still answers what it accepted', async () => {
    const small = newPool({ size: 1, maxInFlightPerWorker: 1, maxQueue: 2 });
    const { connection, sp } = inline.connection();
    const job = () => jobFor(connection, inline.idp.buildResponse(sp).samlResponse);
    const accepted = [small.validate(job()), small.validate(job()), small.validate(job())];
    const error = await small.validate(job()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationPoolBusyError);
    expect(error).toMatchObject({ status: 503 });
    for (const outcome of await Promise.all(accepted)) expect(outcome.ok).toBe(true);
  });
});

describe('failures', () => {
  it('fails the job of a crashed worker as an error (not a refusal), replaces the worker, and carries on', async () => {
    const fragile = newPool({ size: 1, maxInFlightPerWorker: 3, workerFile: MISBEHAVING_WORKER });
    const { connection, sp } = inline.connection();
    const good = jobFor(connection, inline.idp.buildResponse(sp).samlResponse);
    await expect(fragile.validate(good)).resolves.toMatchObject({ ok: true });
    const firstThread = fragile.stats().workers[0]!.threadId;

    // The crashing job fails; the two queued behind it on the same worker had not started and are answered.
    const [crashed, after1, after2] = await Promise.allSettled([
      fragile.validate({ ...good, samlResponse: '__crash__' }),
      fragile.validate(good),
      fragile.validate(jobFor(connection, inline.idp.buildResponse(sp, { key: 'idp-rogue' }).samlResponse)),
    ]);
    expect(crashed.status).toBe('rejected');
    const reason = (crashed as PromiseRejectedResult).reason as Error;
    expect(reason).toBeInstanceOf(ValidationWorkerError);
    expect(reason).not.toBeInstanceOf(SamlRefusal);
    expect(reason.message).toMatch(/exit code 70/);
    expect(after1).toMatchObject({ status: 'fulfilled', value: { ok: true } });
    expect(after2).toMatchObject({ status: 'fulfilled', value: { ok: false, reason: 'signature_invalid' } });

    expect(fragile.stats().replaced).toBe(1);
    expect(fragile.stats().workers[0]!.threadId).not.toBe(firstThread);
    await expect(fragile.validate(good)).resolves.toMatchObject({ ok: true });
  });

  it('surfaces a crash through the ACS as an error, never as a refusal, and does not spend the request', async () => {
    const fragile = newPool({ size: 1, workerFile: MISBEHAVING_WORKER });
    const h = await createAcsHarness({ validationPool: fragile });
    try {
      const { connection, sp } = h.connection({ settings: { allowIdpInitiated: false } });
      const { requestId } = await h.saml.createLoginRedirect(connection, { returnTo: '/home' });
      // A well-formed, correctly signed response (it passes the pre-flight) that the test worker crashes on.
      const poison = h.idp.postBody(sp, { inResponseTo: requestId, extraAttributes: { 'urn:test:marker': ['__crash__'] } });
      const error = await h.saml.validateAcsPost(connection, poison).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationWorkerError);
      expect(error).not.toBeInstanceOf(SamlRefusal);
      // The user can post the IdP's next answer to the same request.
      await expect(h.saml.validateAcsPost(connection, h.idp.postBody(sp, { inResponseTo: requestId }))).resolves.toMatchObject({
        inResponseTo: requestId,
        returnTo: '/home',
      });
    } finally {
      await h.close();
    }
  });

  it('stops a worker that takes longer than the task timeout and replaces it', async () => {
    const slow = newPool({ size: 1, taskTimeoutMs: 300, workerFile: MISBEHAVING_WORKER });
    const { connection, sp } = inline.connection();
    const error = await slow.validate({ ...jobFor(connection, ''), samlResponse: '__hang__' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationWorkerError);
    expect((error as Error).message).toMatch(/longer than 300 ms/);
    await expect(slow.validate(jobFor(connection, inline.idp.buildResponse(sp).samlResponse))).resolves.toMatchObject({ ok: true });
    expect(slow.stats().replaced).toBe(1);
  });

  it('fails every job when the worker cannot start, without a restart loop', async () => {
    const broken = newPool({ size: 1, workerFile: path.resolve(__dirname, '../helpers/no-such-worker.js') });
    const { connection } = inline.connection();
    const results = await Promise.allSettled([1, 2, 3].map(() => broken.validate(jobFor(connection, 'x'))));
    for (const r of results) expect(r).toMatchObject({ status: 'rejected', reason: expect.any(ValidationWorkerError) });
    expect(broken.stats().workers[0]!.threadId).toBeNull();
  });
});

describe('close()', () => {
  it('terminates every worker, fails queued and running jobs, and refuses new ones', async () => {
    const closing = newPool({ size: 2, prewarm: true, maxInFlightPerWorker: 1 });
    expect(closing.stats().workers.every((w) => w.threadId !== null)).toBe(true);
    const { connection, sp } = inline.connection();
    const pending = Array.from({ length: 5 }, () => closing.validate(jobFor(connection, inline.idp.buildResponse(sp).samlResponse)));
    const settled = Promise.allSettled(pending);
    await closing.close();
    const results = await settled;
    for (const r of results) expect(r).toMatchObject({ status: 'rejected', reason: expect.any(ValidationWorkerError) });
    expect(closing.stats().workers).toEqual([
      { threadId: null, ready: false, inFlight: 0 },
      { threadId: null, ready: false, inFlight: 0 },
    ]);
    await expect(closing.validate(jobFor(connection, 'x'))).rejects.toBeInstanceOf(ValidationWorkerError);
    await expect(closing.close()).resolves.toBeUndefined();
  });

  it('leaves nothing running when it was never used', async () => {
    const unused = newPool({ size: 3 });
    await unused.close();
    expect(unused.stats().workers.every((w) => w.threadId === null)).toBe(true);
  });
});
