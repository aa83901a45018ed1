/**
 * The SAML service: SP-initiated login redirects, the hardened ACS pipeline, single logout and SP metadata, per connection.
 *
 * The ACS pipeline (design.md section 4) runs in three stages:
 *   1. pre-flight (src/saml/acs-checks): size, strict base64, DOCTYPE refusal, structure, issuers, Destination,
 *      Recipient, algorithms, signature presence. Cheap, and refuses most garbage before any cryptography.
 *   2. node-saml's validatePostResponseAsync: signatures, time conditions, audience (validation-core.ts). The
 *      CPU-heavy part, so it runs on a worker thread when the service has a ValidationPool (SAML_WORKERS), else
 *      inline; the same code either way. It returns plain data read from the validated profile.
 *   3. post-checks on that validated data only: issuer again, assertion age, InResponseTo, the atomic replay claim,
 *      and the atomic consumption of the login state stored with the AuthnRequest. That take is the InResponseTo
 *      check: node-saml runs with validateInResponseTo "never" (its own check reads, then deletes, so two concurrent
 *      POSTs both pass it; the store's claim/take are single atomic statements).
 * Every refusal is a SamlRefusal; only infrastructure failures (the store, the pool) surface as other errors.
 *
 * Single logout (the "single logout" section below) has its own pre-flight (logout-checks.ts) and validates on the
 * main thread with node-saml instances built from the same per-connection configuration (samlConfig).
 */
import { sign as signBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { inflateRaw } from 'node:zlib';
import { SAML, ValidateInResponseTo, type Profile, type SamlConfig } from '@node-saml/node-saml';
import type { Logger } from '../common/log';
import { safeLocalPath } from '../common/local-path';
import type { Connection } from '../provisioning/types';
import type { ExpiringMap, OnceCache } from '../store/ports';
import { checkIssueInstant, checkResponseDocument, decodeStrictBase64, parseResponseDocument, samlResponseField } from './acs-checks';
import { inFlightRequestKey, StoreCacheProvider } from './cache-provider';
import { checkLogoutDocument, decodeLogoutTransport, echoableRelayState, type LogoutInput } from './logout-checks';
import { CacheProviderError, refusalFromNodeSamlError } from './node-saml-errors';
import { SamlRefusal } from './refusal';
import { buildSpMetadataXml } from './sp-metadata';
import type { AcceptedAssertion, AcceptedLogoutRequest, AcceptedLogoutResponse, SamlSessionSubject } from './types';
import { spUrls } from './urls';
import { refusalOf, ResponseValidator, validatorSettingsFor, type ValidatedResponse } from './validation-core';
import type { ValidationPool } from './validation-pool';
import { parseXmlStrict } from './xml';

const inflateRawAsync = promisify(inflateRaw);

export const MAX_CLOCK_SKEW_MS = 180_000;
const DEFAULTS = {
  clockSkewMs: MAX_CLOCK_SKEW_MS,
  maxAssertionAgeMs: 300_000,
  requestTtlMs: 10 * 60_000,
  maxResponseBytes: 256 * 1024,
} as const;

export interface SamlServiceOptions {
  /** Public origin, e.g. https://gatehouse.example.com (ACS and SLO URLs derive from it). */
  baseUrl: string;
  /** SP signing key (signs AuthnRequests when a connection asks for it). */
  spPrivateKeyPem: string;
  /** The certificate of that key (published in SP metadata). */
  spCertPem: string;
  replayCache: OnceCache;
  requestCache: ExpiringMap;
  logger: Logger;
  /** Accepted clock difference with the IdP. Default and hard maximum 180 000 ms; negative values count as 0. */
  clockSkewMs?: number;
  /** How long after its IssueInstant an assertion is accepted. Default 300 000 ms. */
  maxAssertionAgeMs?: number;
  /** How long an AuthnRequest id stays answerable. Default 10 minutes. */
  requestTtlMs?: number;
  /** Largest accepted SAMLResponse field (base64 characters). Default 256 KiB. */
  maxResponseBytes?: number;
  /**
   * Worker threads for stage 2 (node-saml's signature validation). Absent or null: validate on the calling thread.
   * The service does not own the pool; whoever created it closes it.
   */
  validationPool?: ValidationPool | null;
}

export interface LoginRedirect {
  /** The IdP URL to redirect the browser to (HTTP-Redirect binding). */
  url: string;
  /** The AuthnRequest ID; the response must answer it (InResponseTo). */
  requestId: string;
}

/**
 * What is remembered about one of our requests (an AuthnRequest or a LogoutRequest) until the IdP answers it
 * (design 4.9: in the store, not the cookie).
 */
interface RequestState {
  connectionId: string;
  returnTo: string | null;
}

type RequestKind = 'login' | 'logout';

function requestStateKey(kind: RequestKind, connectionId: string, requestId: string): string {
  return `saml:${kind}:${connectionId}:${requestId}`;
}

/**
 * Which node-saml instance of a connection's single logout: the one that sends our LogoutRequests also checks the
 * IdP's messages (same configuration); LogoutResponses may go to their own URL.
 */
type LogoutPurpose = 'request' | 'response';

function clamp(value: number, min: number, max: number): number {
  return Math.min(Math.max(value, min), max);
}

export class SamlService {
  private readonly clockSkewMs: number;
  private readonly maxAssertionAgeMs: number;
  private readonly requestTtlMs: number;
  private readonly maxResponseBytes: number;
  /** One node-saml instance per connection (AuthnRequests), for its current version only. */
  private readonly validators = new Map<string, { version: number; saml: SAML }>();
  /** Stage 2 inputs per connection (serialised ValidatorSettings), for its current version only. */
  private readonly validatorSettings = new Map<string, { version: number; json: string }>();
  /** node-saml instances for single logout per connection (current version only), built on first use. */
  private readonly logoutSamls = new Map<string, { version: number; byPurpose: Partial<Record<LogoutPurpose, SAML>> }>();
  private readonly pool: ValidationPool | null;
  /** Stage 2 on this thread, when there is no pool. */
  private readonly inline = new ResponseValidator();

  constructor(private readonly options: SamlServiceOptions) {
    // node-saml treats -1 as "skip every time check": clamping to >= 0 keeps that door shut.
    this.clockSkewMs = clamp(options.clockSkewMs ?? DEFAULTS.clockSkewMs, 0, MAX_CLOCK_SKEW_MS);
    this.maxAssertionAgeMs = Math.max(1, options.maxAssertionAgeMs ?? DEFAULTS.maxAssertionAgeMs);
    this.requestTtlMs = Math.max(1, options.requestTtlMs ?? DEFAULTS.requestTtlMs);
    this.maxResponseBytes = Math.max(1, options.maxResponseBytes ?? DEFAULTS.maxResponseBytes);
    this.pool = options.validationPool ?? null;
  }

  /**
   * SP-initiated login: a (deflated, optionally RSA-SHA256 signed) AuthnRequest on the IdP's HTTP-Redirect
   * endpoint. The request id is remembered with the login state (connection and a validated returnTo), consumed
   * atomically by the ACS: that take is the InResponseTo check. node-saml's cache provider also saves the id (its
   * in-flight entry); validation no longer reads it, and the ACS deletes it with the login state.
   */
  async createLoginRedirect(connection: Connection, options: { returnTo?: string | null }): Promise<LoginRedirect> {
    if (!connection.idp.ssoRedirectUrl) {
      throw new Error(`Connection ${connection.slug} has no HTTP-Redirect single sign-on URL in its IdP metadata.`);
    }
    const url = await this.samlFor(connection).getAuthorizeUrlAsync('', undefined, {});
    const requestId = await requestIdOf(url);
    const state: RequestState = { connectionId: connection.id, returnTo: safeLocalPath(options.returnTo) };
    await this.options.requestCache.put(
      requestStateKey('login', connection.id, requestId),
      JSON.stringify(state),
      new Date(Date.now() + this.requestTtlMs),
    );
    return { url, requestId };
  }

  /** The hardened ACS pipeline. Returns the accepted assertion or throws SamlRefusal. */
  async validateAcsPost(connection: Connection, body: unknown): Promise<AcceptedAssertion> {
    const nowMs = Date.now();
    const { acsUrl } = spUrls(this.options.baseUrl, connection.slug);
    const { settings, idp } = connection;

    // Stage 1: pre-flight.
    const field = samlResponseField(body);
    if (field.length > this.maxResponseBytes) throw new SamlRefusal('too_large', `${field.length} characters`);
    const { canonical, bytes } = decodeStrictBase64(field);
    const doc = parseResponseDocument(bytes);
    const preflight = checkResponseDocument(doc, {
      idpEntityId: idp.entityId,
      acsUrl,
      wantAuthnResponseSigned: settings.wantAuthnResponseSigned,
      allowSha1: settings.allowSha1,
      clockSkewMs: this.clockSkewMs,
      nowMs,
    });

    // Stage 2: node-saml, on a worker thread when there is a pool.
    const validated = await this.validateSignedResponse(connection, canonical);

    // Stage 3: post-checks on what was read from the validated profile.
    const { facts } = validated;
    if (facts.id !== preflight.assertionId) {
      // Cannot happen while the pre-flight insists on exactly one assertion; kept so that it stays impossible.
      throw new SamlRefusal('invalid_assertion', 'the validated assertion is not the one in the response');
    }
    const issuer = validated.issuer;
    if (issuer !== idp.entityId) throw new SamlRefusal('unknown_issuer', 'validated assertion issuer differs');
    const nameId = validated.nameId;
    if (nameId === null) throw new SamlRefusal('missing_subject', 'no NameID');
    // node-saml applies maxAssertionAgeMs only through Conditions or the InResponseTo path; apply it always.
    if (facts.issueInstantMs === null) throw new SamlRefusal('malformed_response', 'assertion IssueInstant missing or invalid');
    checkIssueInstant(facts.issueInstantMs, { nowMs, clockSkewMs: this.clockSkewMs, maxAgeMs: this.maxAssertionAgeMs }, 'assertion');

    // Which request this answers: what the signed assertion says, else the Response attribute (which node-saml read;
    // when only the assertion is signed it is unsigned, but it is only ever used to take state that we issued).
    const responseInResponseTo = validated.responseInResponseTo;
    if (responseInResponseTo && facts.subjectInResponseTo && responseInResponseTo !== facts.subjectInResponseTo) {
      throw new SamlRefusal('unknown_in_response_to', 'Response and assertion answer different requests');
    }
    const inResponseTo = facts.subjectInResponseTo ?? responseInResponseTo;
    if (inResponseTo === null && !settings.allowIdpInitiated) throw new SamlRefusal('unsolicited_response');

    // 4.4: the atomic replay claim, alive as long as node-saml or the pre-flight could accept this assertion again.
    const validUntilMs =
      facts.bearerNotOnOrAfterMs.length > 0
        ? Math.max(...facts.bearerNotOnOrAfterMs)
        : (facts.conditionsNotOnOrAfterMs ?? facts.issueInstantMs + this.maxAssertionAgeMs);
    const claimed = await fromStore(
      this.options.replayCache.claim(`${connection.id}:${facts.id}`, new Date(Math.max(validUntilMs, nowMs) + this.clockSkewMs)),
      'The SAML replay cache is unavailable.',
    );
    if (!claimed) throw new SamlRefusal('replayed');

    const returnTo =
      inResponseTo === null
        ? safeLocalPath(relayStateOf(body))
        : await this.consumeRequestState('login', connection, inResponseTo, 'the sign-in request was already answered or has expired');

    return {
      issuer,
      assertionId: facts.id,
      nameId,
      nameIdFormat: validated.nameIdFormat,
      sessionIndex: validated.sessionIndex,
      inResponseTo,
      attributes: validated.attributes,
      returnTo,
    };
  }

  // ---- single logout --------------------------------------------------------------------------------------------

  /**
   * Where single logout messages for this connection's IdP go: its SingleLogoutService, when that uses the
   * HTTP-Redirect binding (the only one Gatehouse sends; Entra supports no other). Null: the IdP cannot be told.
   */
  idpLogoutUrl(connection: Connection): string | null {
    const { idp } = connection;
    return idp.sloUrl && (idp.sloBinding ?? 'redirect') === 'redirect' ? idp.sloUrl : null;
  }

  /**
   * SP-initiated single logout: a LogoutRequest (signed with the SP key, HTTP-Redirect) naming the NameID and
   * SessionIndex of the sign-in. Its id is remembered with the returnTo in the request cache, as for an
   * AuthnRequest, and taken atomically when the IdP's LogoutResponse arrives. Null when the IdP has no usable SLO URL.
   */
  async createLogoutRedirect(connection: Connection, subject: SamlSessionSubject, options: { returnTo?: string | null } = {}): Promise<LoginRedirect | null> {
    if (!this.idpLogoutUrl(connection)) return null;
    const user = {
      issuer: connection.idp.entityId,
      nameID: subject.nameId,
      // node-saml leaves Format out when it is null, which is what the assertion said then.
      nameIDFormat: subject.nameIdFormat as string,
      ...(subject.sessionIndex ? { sessionIndex: subject.sessionIndex } : {}),
    } satisfies Profile;
    const url = await this.logoutSamlFor(connection, 'request').getLogoutUrlAsync(user, '', {});
    const requestId = await requestIdOf(url);
    const state: RequestState = { connectionId: connection.id, returnTo: safeLocalPath(options.returnTo) };
    await fromStore(
      this.options.requestCache.put(requestStateKey('logout', connection.id, requestId), JSON.stringify(state), new Date(Date.now() + this.requestTtlMs)),
    );
    return { url: signedRedirectUrl(url, this.options.spPrivateKeyPem), requestId };
  }

  /**
   * Checks a single logout message posted or redirected to /sso/:connection/logout: a LogoutRequest from the IdP,
   * or the LogoutResponse to one of ours. Pre-flight (logout-checks.ts: transport, DOCTYPE, structure, issuer,
   * Destination, time window, algorithms, signature presence), then node-saml's signature validation (on this thread:
   * logout messages are rare), then post-checks on node-saml's result: issuer again, a replay claim on the request
   * ID, or the atomic take of the state stored with our LogoutRequest (the InResponseTo check). Throws SamlRefusal.
   */
  async validateLogoutMessage(connection: Connection, input: LogoutInput): Promise<AcceptedLogoutRequest | AcceptedLogoutResponse> {
    const nowMs = Date.now();
    const { idp, settings } = connection;
    const transport = decodeLogoutTransport(input, this.maxResponseBytes);
    const preflight = checkLogoutDocument(transport, {
      idpEntityId: idp.entityId,
      sloUrl: spUrls(this.options.baseUrl, connection.slug).sloUrl,
      allowSha1: settings.allowSha1,
      clockSkewMs: this.clockSkewMs,
      maxMessageAgeMs: this.maxAssertionAgeMs,
      nowMs,
    });

    const saml = this.logoutSamlFor(connection, 'request');
    const field = transport.kind === 'request' ? 'SAMLRequest' : 'SAMLResponse';
    let result: { profile: Profile | null; loggedOut: boolean };
    try {
      if (transport.redirect) {
        const container: Record<string, string> = { [field]: transport.encoded };
        if (transport.relayState !== null) container.RelayState = transport.relayState;
        if (transport.redirect.sigAlg !== null) container.SigAlg = transport.redirect.sigAlg;
        if (transport.redirect.signature !== null) container.Signature = transport.redirect.signature;
        result = await saml.validateRedirectAsync(container, transport.redirect.signedQuery);
      } else if (transport.kind === 'request') {
        result = await saml.validatePostRequestAsync({ SAMLRequest: transport.encoded });
      } else {
        result = await saml.validatePostResponseAsync({ SAMLResponse: transport.encoded });
      }
    } catch (error) {
      throw refusalFromNodeSamlError(error);
    }

    if (transport.kind === 'request') {
      const profile = result.profile;
      if (!profile) throw new SamlRefusal('malformed_response', 'node-saml returned no LogoutRequest');
      if (profile.ID !== preflight.id) throw new SamlRefusal('malformed_response', 'the validated LogoutRequest is not the one checked');
      if (profile.issuer !== idp.entityId) throw new SamlRefusal('unknown_issuer', 'validated LogoutRequest issuer differs');
      const nameId = typeof profile.nameID === 'string' ? profile.nameID.trim() : '';
      if (nameId === '') throw new SamlRefusal('missing_subject', 'no NameID');
      // A signed LogoutRequest replayed later would end the sessions of a new sign-in: one use per ID while the
      // message could pass the time checks.
      const validUntilMs = preflight.issueInstantMs + this.maxAssertionAgeMs + this.clockSkewMs;
      const claimed = await fromStore(
        this.options.replayCache.claim(`${connection.id}:logout:${preflight.id}`, new Date(Math.max(validUntilMs, nowMs) + this.clockSkewMs)),
        'The SAML replay cache is unavailable.',
      );
      if (!claimed) throw new SamlRefusal('replayed', 'LogoutRequest ID already seen');
      return {
        kind: 'request',
        binding: transport.binding,
        id: preflight.id,
        nameId,
        nameIdFormat: typeof profile.nameIDFormat === 'string' ? profile.nameIDFormat : null,
        sessionIndex: typeof profile.sessionIndex === 'string' ? profile.sessionIndex : null,
        relayState: transport.relayState,
      };
    }

    if (result.profile !== null || !result.loggedOut) throw new SamlRefusal('malformed_response', 'not a LogoutResponse');
    // InResponseTo was read from the root element whose signature node-saml just verified (the whole deflated
    // message for HTTP-Redirect, the enveloped root signature for HTTP-POST).
    const inResponseTo = preflight.inResponseTo!;
    const returnTo = await this.consumeRequestState('logout', connection, inResponseTo, 'the LogoutRequest was already answered, has expired, or was never sent');
    return {
      kind: 'response',
      binding: transport.binding,
      inResponseTo,
      returnTo: returnTo ?? safeLocalPath(transport.relayState),
    };
  }

  /**
   * The signed LogoutResponse (HTTP-Redirect) answering a validated LogoutRequest: to the IdP's SingleLogoutService
   * ResponseLocation (else its Location), with the IdP's RelayState. Always Success: an unknown NameID has no session
   * here, which is what the IdP asked for. Null when the IdP has no usable SLO URL.
   */
  async createLogoutResponseRedirect(connection: Connection, request: AcceptedLogoutRequest): Promise<string | null> {
    if (!this.idpLogoutUrl(connection)) return null;
    const answered = {
      ID: request.id,
      issuer: connection.idp.entityId,
      nameID: request.nameId,
      nameIDFormat: request.nameIdFormat as string,
    } satisfies Profile;
    const url = await this.logoutSamlFor(connection, 'response').getLogoutResponseUrlAsync(answered, echoableRelayState(request.relayState) ?? '', {}, true);
    return signedRedirectUrl(url, this.options.spPrivateKeyPem);
  }

  /** SP metadata for the IdP admin (entity ID, ACS, SLO, signing certificate). */
  spMetadataXml(connection: Connection): string {
    const urls = spUrls(this.options.baseUrl, connection.slug);
    return buildSpMetadataXml({
      entityId: connection.spEntityId,
      acsUrl: urls.acsUrl,
      sloUrl: urls.sloUrl,
      signingCertPem: this.options.spCertPem,
      authnRequestsSigned: connection.settings.signAuthnRequests,
    });
  }

  /**
   * Takes (atomically: one winner among concurrent answers) the state saved with our request: the InResponseTo check
   * of a login or a logout. Returns where to go afterwards.
   */
  private async consumeRequestState(kind: RequestKind, connection: Connection, requestId: string, missingDetail: string): Promise<string | null> {
    const stored = await fromStore(this.options.requestCache.take(requestStateKey(kind, connection.id, requestId)));
    if (stored === null) throw new SamlRefusal('unknown_in_response_to', missingDetail);
    // node-saml's entry for the request (saved by the redirect's cache provider) is no longer needed: the take above
    // is the check node-saml's lookup of it used to be.
    await fromStore(this.options.requestCache.delete(inFlightRequestKey(connection.id, requestId)));
    let state: Partial<RequestState>;
    try {
      state = JSON.parse(stored) as Partial<RequestState>;
    } catch {
      throw new SamlRefusal('unknown_in_response_to', `unreadable ${kind} state`);
    }
    if (state.connectionId !== connection.id) throw new SamlRefusal('unknown_in_response_to', 'request of another connection');
    return safeLocalPath(state.returnTo);
  }

  /** Stage 2 on the pool or inline; returns the validated data or throws the refusal. */
  private async validateSignedResponse(connection: Connection, samlResponse: string): Promise<ValidatedResponse> {
    const job = { connectionId: connection.id, settingsJson: this.validatorSettingsJson(connection), samlResponse };
    const outcome = this.pool ? await this.pool.validate(job) : await this.inline.validate(job);
    if (outcome.ok) return outcome.response;
    if (outcome.unrecognised) {
      this.options.logger.warn({ connectionId: connection.id, detail: outcome.detail }, 'unrecognised node-saml validation error');
    }
    throw refusalOf(outcome);
  }

  private validatorSettingsJson(connection: Connection): string {
    const cached = this.validatorSettings.get(connection.id);
    if (cached && cached.version === connection.version) return cached.json;
    const json = JSON.stringify(
      validatorSettingsFor(connection, { baseUrl: this.options.baseUrl, clockSkewMs: this.clockSkewMs, maxAssertionAgeMs: this.maxAssertionAgeMs }),
    );
    this.validatorSettings.set(connection.id, { version: connection.version, json });
    return json;
  }

  /** node-saml for AuthnRequests (stage 2 builds its own instances from ValidatorSettings, see validation-core.ts). */
  private samlFor(connection: Connection): SAML {
    const cached = this.validators.get(connection.id);
    if (cached && cached.version === connection.version) return cached.saml;
    const saml = new SAML(this.samlConfig(connection));
    // Replacing the entry evicts the previous version's instance.
    this.validators.set(connection.id, { version: connection.version, saml });
    return saml;
  }

  /** node-saml for one purpose of a connection's single logout (current version only). */
  private logoutSamlFor(connection: Connection, purpose: LogoutPurpose): SAML {
    let entry = this.logoutSamls.get(connection.id);
    if (!entry || entry.version !== connection.version) {
      entry = { version: connection.version, byPurpose: {} };
      this.logoutSamls.set(connection.id, entry);
    }
    return (entry.byPurpose[purpose] ??= new SAML(this.logoutConfig(connection, purpose)));
  }

  /** The connection's node-saml configuration (samlConfig) with what single logout changes. */
  private logoutConfig(connection: Connection, purpose: LogoutPurpose): SamlConfig {
    const { idp } = connection;
    const target = (purpose === 'response' ? (idp.sloResponseUrl ?? idp.sloUrl) : idp.sloUrl) ?? undefined;
    return {
      ...this.samlConfig(connection),
      // Logout messages are always signed with the SP key, whatever signAuthnRequests says for AuthnRequests, but by
      // signedRedirectUrl (a strict encoding), not by node-saml.
      privateKey: undefined,
      // node-saml sends logout messages to logoutUrl (and writes it as their Destination); it insists on an entryPoint.
      entryPoint: idp.ssoRedirectUrl ?? target,
      logoutUrl: target,
      idpIssuer: idp.entityId,
      acceptedClockSkewMs: this.clockSkewMs,
      // The InResponseTo of a LogoutResponse is checked by the atomic take of the logout state (consumeRequestState).
      validateInResponseTo: ValidateInResponseTo.never,
      wantAuthnResponseSigned: true,
    };
  }

  private samlConfig(connection: Connection): SamlConfig {
    const { settings, idp } = connection;
    return {
      callbackUrl: spUrls(this.options.baseUrl, connection.slug).acsUrl,
      entryPoint: idp.ssoRedirectUrl ?? undefined,
      issuer: connection.spEntityId,
      idpCert: idp.certs.map((cert) => cert.pem),
      // Only AuthnRequests are made with this instance: the validation options live in validation-core.ts. With
      // a mode other than "never", node-saml saves each request id through the cache provider (its in-flight
      // entry, removed again when the login state is consumed).
      validateInResponseTo: settings.allowIdpInitiated ? ValidateInResponseTo.ifPresent : ValidateInResponseTo.always,
      requestIdExpirationPeriodMs: this.requestTtlMs,
      cacheProvider: new StoreCacheProvider(this.options.requestCache, connection.id, this.requestTtlMs),
      disableRequestedAuthnContext: true,
      identifierFormat: null,
      signatureAlgorithm: 'sha256',
      digestAlgorithm: 'sha256',
      ...(settings.signAuthnRequests ? { privateKey: this.options.spPrivateKeyPem } : {}),
    };
  }
}

/** Store failures in the post-checks become CacheProviderErrors: a 500, never mistaken for a refusal. */
async function fromStore<T>(operation: Promise<T>, message?: string): Promise<T> {
  try {
    return await operation;
  } catch (error) {
    throw new CacheProviderError(error, message);
  }
}

function relayStateOf(body: unknown): unknown {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>).RelayState : undefined;
}

const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';

/** Percent-encodes everything but unreserved characters, so no browser or proxy re-encodes the signed bytes. */
function strictEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * The HTTP-Redirect query of a logout message node-saml built, signed again over a strict encoding (SAML bindings
 * 3.4.4.1: the IdP verifies the bytes it receives). node-saml signs `querystring.stringify(...)` but writes the URL
 * with URLSearchParams, which encodes some characters differently (a space as '+', `!'()~`), and browsers
 * percent-encode a `'` in the query of an http(s) URL: either way an IdP verifying the received query would refuse the
 * signature of a message whose RelayState holds such a character. Parameters of the IdP's own URL stay in front.
 */
function signedRedirectUrl(url: string, privateKeyPem: string): string {
  const target = new URL(url);
  const params = target.searchParams;
  const field = params.has('SAMLRequest') ? 'SAMLRequest' : 'SAMLResponse';
  const signed = [`${field}=${strictEncode(params.get(field) ?? '')}`];
  const relayState = params.get('RelayState');
  if (relayState) signed.push(`RelayState=${strictEncode(relayState)}`);
  signed.push(`SigAlg=${strictEncode(RSA_SHA256)}`);
  const signature = signBytes('sha256', Buffer.from(signed.join('&'), 'utf8'), privateKeyPem).toString('base64');
  for (const name of ['SAMLRequest', 'SAMLResponse', 'RelayState', 'SigAlg', 'Signature']) params.delete(name);
  const others = params.toString();
  target.search = '';
  target.hash = '';
  return `${target.toString()}?${others ? `${others}&` : ''}${signed.join('&')}&Signature=${strictEncode(signature)}`;
}

/** Reads the ID back from the AuthnRequest (or LogoutRequest) node-saml just generated (it does not return it otherwise). */
async function requestIdOf(redirectUrl: string): Promise<string> {
  const encoded = new URL(redirectUrl).searchParams.get('SAMLRequest');
  if (!encoded) throw new Error('node-saml produced a redirect without SAMLRequest');
  const xml = (await inflateRawAsync(Buffer.from(encoded, 'base64'))).toString('utf8');
  const id = parseXmlStrict(xml, 'The AuthnRequest').documentElement.getAttribute('ID');
  if (!id) throw new Error('node-saml produced an AuthnRequest without ID');
  return id;
}
