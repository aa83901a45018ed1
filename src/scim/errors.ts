/**
 * SCIM errors (RFC 7644 §3.12). Everything under src/scim throws ScimError; the SCIM routes answer every failure,
 * ours or the rest of Gatehouse's (AppError subclasses), with the body toScimErrorBody builds.
 */
import { AppError, ConflictError, ValidationError } from '../common/errors';

export const SCIM_ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** The `scimType` detail codes of RFC 7644 §3.12 (all of them; only some are thrown here). */
export type ScimErrorType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'invalidVers'
  | 'sensitive';

/**
 * A SCIM protocol error. It is an AppError too, so the generic HTTP error handler still maps it sensibly if one ever
 * escapes the SCIM routes (`code` is `scim_<scimType>`).
 */
export class ScimError extends AppError {
  constructor(
    status: number,
    readonly scimType: ScimErrorType | undefined,
    readonly detail: string,
  ) {
    super(status, scimType ? `scim_${scimType}` : `scim_${status}`, detail);
  }
}

/** The error response body. `status` is a string: the RFC says so and Entra parses it that way. */
export interface ScimErrorBody {
  schemas: [typeof SCIM_ERROR_SCHEMA];
  status: string;
  scimType?: ScimErrorType;
  detail?: string;
}

/**
 * Maps anything thrown to the SCIM error body. The HTTP status to send is `Number(body.status)`.
 * - ScimError: as thrown.
 * - AppError subclasses: their status and message; ConflictError becomes `uniqueness` (what Entra expects on a
 *   duplicate POST), ValidationError `invalidValue`.
 * - body-parser style errors (`status` + `type`): malformed JSON is `invalidSyntax`, an oversized body 413.
 * - Anything else: 500 with a fixed detail, so no internal message or stack leaks; the caller logs the original.
 */
export function toScimErrorBody(error: unknown): ScimErrorBody {
  if (error instanceof ScimError) return body(error.status, error.scimType, error.detail);
  if (error instanceof ConflictError) return body(409, 'uniqueness', error.message);
  if (error instanceof ValidationError) return body(400, 'invalidValue', error.message);
  if (error instanceof AppError) return body(error.status, undefined, error.message);
  const httpError = error as { status?: unknown; type?: unknown } | null;
  if (httpError && typeof httpError.status === 'number' && httpError.status >= 400 && httpError.status < 500) {
    if (httpError.type === 'entity.too.large') return body(413, undefined, 'Request body is too large.');
    if (httpError.type === 'entity.parse.failed') return body(400, 'invalidSyntax', 'Request body is not valid JSON.');
    return body(httpError.status, undefined, 'Bad request.');
  }
  return body(500, undefined, 'Internal server error.');
}

function body(status: number, scimType: ScimErrorType | undefined, detail: string): ScimErrorBody {
  return {
    schemas: [SCIM_ERROR_SCHEMA],
    status: String(status),
    ...(scimType ? { scimType } : {}),
    detail,
  };
}

/** Shorthands for the 400s the SCIM layer throws most. */
export const badRequest = (scimType: ScimErrorType, detail: string): ScimError => new ScimError(400, scimType, detail);
