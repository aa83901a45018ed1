/**
 * Stage 2 of the ACS pipeline (see service.ts): node-saml's validatePostResponseAsync (signatures, c14n, time
 * conditions, audience) plus reading the validated profile into a plain, structured-cloneable result.
 *
 * This module is what the validation worker threads run (validation-worker.ts), and what SamlService runs inline
 * when it has no pool: both paths execute exactly this code, so SAML_WORKERS never changes what is accepted.
 * It holds no store and no request state. node-saml runs with `validateInResponseTo: never` and no cache provider;
 * "is this a request we issued and has it not been answered yet" is decided on the main thread by the atomic
 * `requestCache.take` of the login state (service.ts), keyed by the InResponseTo the *signed* assertion states.
 * The stateless half of node-saml's InResponseTo handling, which `never` switches off too, is kept here
 * (checkInResponseToShape), so a response is refused for the same reasons as before.
 */
import { SAML, ValidateInResponseTo, type Profile, type SamlConfig } from '@node-saml/node-saml';
import type { Connection } from '../provisioning/types';
import { refusalFromNodeSamlError } from './node-saml-errors';
import { SamlRefusal, type RefusalReason } from './refusal';
import { spUrls } from './urls';
import { profileAttributes, profileString, signedAssertionFacts, type SignedAssertionFacts } from './validated-assertion';

/** What node-saml needs to know about one connection (and the service's time limits). Plain data. */
export interface ValidatorSettings {
  connectionId: string;
  /** The connection's version: a changed connection gets a fresh node-saml instance. */
  version: number;
  acsUrl: string;
  spEntityId: string;
  /** Every signing certificate of the IdP (rollover), PEM. */
  idpCerts: string[];
  wantAuthnResponseSigned: boolean;
  allowIdpInitiated: boolean;
  clockSkewMs: number;
  maxAssertionAgeMs: number;
}

/** The ValidatorSettings of a connection, for a service with these time limits and public origin. */
export function validatorSettingsFor(
  connection: Connection,
  service: { baseUrl: string; clockSkewMs: number; maxAssertionAgeMs: number },
): ValidatorSettings {
  return {
    connectionId: connection.id,
    version: connection.version,
    acsUrl: spUrls(service.baseUrl, connection.slug).acsUrl,
    spEntityId: connection.spEntityId,
    idpCerts: connection.idp.certs.map((cert) => cert.pem),
    wantAuthnResponseSigned: connection.settings.wantAuthnResponseSigned,
    allowIdpInitiated: connection.settings.allowIdpInitiated,
    clockSkewMs: service.clockSkewMs,
    maxAssertionAgeMs: service.maxAssertionAgeMs,
  };
}

/** One validation: the connection's settings (serialised once per connection version) and the canonical base64. */
export interface ValidationJob {
  connectionId: string;
  /** JSON of ValidatorSettings. Also the cache key: any difference builds a new node-saml instance. */
  settingsJson: string;
  samlResponse: string;
}

/** What the post-checks need from node-saml's validated profile, already read out of it. */
export interface ValidatedResponse {
  issuer: string | null;
  nameId: string | null;
  nameIdFormat: string | null;
  sessionIndex: string | null;
  /** Response/@InResponseTo as node-saml read it (outside the signature when only the assertion is signed). */
  responseInResponseTo: string | null;
  attributes: Record<string, string[]>;
  /** Read from the signed assertion (profile.getAssertion()). */
  facts: SignedAssertionFacts;
}

export type ValidationOutcome =
  | { ok: true; response: ValidatedResponse }
  | {
      ok: false;
      reason: RefusalReason;
      detail: string | null;
      /** node-saml threw an error no rule in node-saml-errors.ts recognises (worth a warning in the log). */
      unrecognised: boolean;
    };

/** The SamlRefusal an outcome stands for (main thread). */
export function refusalOf(outcome: Extract<ValidationOutcome, { ok: false }>): SamlRefusal {
  return new SamlRefusal(outcome.reason, outcome.detail ?? undefined);
}

function refusalOutcome(refusal: SamlRefusal, unrecognised = false): ValidationOutcome {
  return { ok: false, reason: refusal.reason, detail: refusal.detail ?? null, unrecognised };
}

export function nodeSamlConfig(settings: ValidatorSettings): SamlConfig {
  return {
    callbackUrl: settings.acsUrl,
    issuer: settings.spEntityId,
    audience: settings.spEntityId,
    idpCert: settings.idpCerts,
    // node-saml 5.1.0 with wantAssertionsSigned insists on a signature *on the assertion* even when a verified
    // Response signature covers it, so a response-only-signed IdP could never sign in. When the connection
    // requires the Response signature, that signature is what protects the assertion; otherwise the assertion
    // must carry its own (Entra's default). Either way exactly the signed bytes become the profile.
    wantAssertionsSigned: !settings.wantAuthnResponseSigned,
    wantAuthnResponseSigned: settings.wantAuthnResponseSigned,
    acceptedClockSkewMs: settings.clockSkewMs,
    maxAssertionAgeMs: settings.maxAssertionAgeMs,
    // The request state lives in the store, on the main thread: see the module comment.
    validateInResponseTo: ValidateInResponseTo.never,
    disableRequestedAuthnContext: true,
    identifierFormat: null,
    signatureAlgorithm: 'sha256',
    digestAlgorithm: 'sha256',
  };
}

/** The xml2js shape of the signed assertion (see validated-assertion.ts). */
interface XmlJs {
  $?: Record<string, string | undefined>;
  [child: string]: unknown;
}

function first(value: unknown): XmlJs | undefined {
  return Array.isArray(value) && typeof value[0] === 'object' && value[0] !== null ? (value[0] as XmlJs) : undefined;
}

class ConnectionValidator extends SAML {
  constructor(readonly settings: ValidatorSettings) {
    super(nodeSamlConfig(settings));
  }

  /**
   * What node-saml 5.1.0 checks about InResponseTo besides its cache lookups (lib/saml.js, validateInResponseTo and
   * the getInResponseTo block of processValidlySignedAssertionAsync), with the mode Gatehouse used to configure:
   * "always" for SP-initiated-only connections, "ifPresent" where IdP-initiated login is allowed. It uses node-saml's
   * own time arithmetic. The cache lookups it skips are the main thread's atomic take of the same request id.
   */
  checkInResponseToShape(profile: Profile, nowMs: number): void {
    const responseInResponseTo = typeof profile.inResponseTo === 'string' ? profile.inResponseTo : null;
    const mustValidate = !this.settings.allowIdpInitiated || Boolean(responseInResponseTo);
    if (!mustValidate) return;
    if (!responseInResponseTo) throw new Error('InResponseTo is missing from response');

    const parsed = profile.getAssertion?.() as { Assertion?: XmlJs } | undefined;
    const assertion = parsed?.Assertion;
    const subject = first(assertion?.Subject);
    const confirmations = subject?.SubjectConfirmation;
    if (!Array.isArray(confirmations)) return;
    // The first confirmation whose own time window (capped by maxAssertionAgeMs) holds now.
    const selected = (confirmations as XmlJs[]).find((confirmation) => {
      const data = first(confirmation?.SubjectConfirmationData);
      if (!data?.$) return false;
      const notOnOrAfter = data.$.NotOnOrAfter as string;
      const maxTimeLimitMs = this.calcMaxAgeAssertionTime(this.options.maxAssertionAgeMs, notOnOrAfter, assertion?.$?.IssueInstant as string);
      return this.checkTimestampsValidityError(nowMs, data.$.NotBefore as string, notOnOrAfter, maxTimeLimitMs) === null;
    });
    if (!selected) throw new Error('No valid subject confirmation found among those available in the SAML assertion');
    const subjectInResponseTo = first(selected.SubjectConfirmationData)?.$?.InResponseTo;
    if (subjectInResponseTo && subjectInResponseTo !== responseInResponseTo) {
      throw new Error('InResponseTo does not match subjectInResponseTo');
    }
  }
}

/** node-saml validation for many connections, one cached node-saml instance per connection (current settings only). */
export class ResponseValidator {
  private readonly instances = new Map<string, { settingsJson: string; validator: ConnectionValidator }>();

  async validate(job: ValidationJob): Promise<ValidationOutcome> {
    const validator = this.validatorFor(job);
    let profile: Profile | null;
    try {
      ({ profile } = await validator.validatePostResponseAsync({ SAMLResponse: job.samlResponse }));
      if (profile) validator.checkInResponseToShape(profile, Date.now());
    } catch (error) {
      const refusal = refusalFromNodeSamlError(error);
      const unrecognised = refusal.reason === 'invalid_assertion' && !(error instanceof SamlRefusal);
      return refusalOutcome(refusal, unrecognised);
    }
    if (!profile) return refusalOutcome(new SamlRefusal('invalid_assertion', 'node-saml returned no profile'));
    try {
      return {
        ok: true,
        response: {
          facts: signedAssertionFacts(profile),
          issuer: profileString(profile, 'issuer'),
          nameId: profileString(profile, 'nameID'),
          nameIdFormat: profileString(profile, 'nameIDFormat'),
          sessionIndex: profileString(profile, 'sessionIndex'),
          responseInResponseTo: profileString(profile, 'inResponseTo'),
          attributes: profileAttributes(profile),
        },
      };
    } catch (error) {
      if (error instanceof SamlRefusal) return refusalOutcome(error);
      throw error;
    }
  }

  /** How many node-saml instances are cached (tests). */
  get size(): number {
    return this.instances.size;
  }

  private validatorFor(job: ValidationJob): ConnectionValidator {
    const cached = this.instances.get(job.connectionId);
    if (cached && cached.settingsJson === job.settingsJson) return cached.validator;
    const validator = new ConnectionValidator(JSON.parse(job.settingsJson) as ValidatorSettings);
    // Replacing the entry evicts the previous version's instance.
    this.instances.set(job.connectionId, { settingsJson: job.settingsJson, validator });
    return validator;
  }
}
