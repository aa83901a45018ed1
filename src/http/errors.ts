/**
 * The one mapping from thrown errors to HTTP responses: JSON `{ "error": { "code", "message" } }` for API clients,
 * an error page for browsers. Never a stack trace; unknown errors are logged and answered as 500 internal_error.
 */
import { randomBytes } from 'node:crypto';
import type { ErrorRequestHandler, Request, Response } from 'express';
import { AppError } from '../common/errors';
import { ProvisioningRefusal } from '../provisioning/identity';
import { SamlRefusal } from '../saml/refusal';
import { endUserCopy, type EndUserCopy } from './web/refusal-copy';

export interface HttpErrorBody {
  status: number;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** A short code a user can quote and an admin can find in the log. */
export function referenceCode(): string {
  return randomBytes(4).toString('hex').toUpperCase();
}

export function toHttpError(error: unknown): HttpErrorBody | null {
  if (error instanceof AppError) return { status: error.status, code: error.code, message: error.message, details: error.details };
  if (error instanceof SamlRefusal) return { status: error.status, code: error.reason, message: error.message };
  if (error instanceof ProvisioningRefusal) return { status: 403, code: error.reason, message: error.message };
  // body-parser and other http-errors style errors carry a status and an expose flag.
  const e = error as { status?: unknown; type?: unknown; expose?: unknown; message?: unknown };
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    if (e.type === 'entity.too.large') return { status: 413, code: 'payload_too_large', message: 'Request body is too large.' };
    if (e.type === 'entity.parse.failed') return { status: 400, code: 'invalid_json', message: 'Request body is not valid JSON.' };
    return { status: e.status, code: 'bad_request', message: e.expose && typeof e.message === 'string' ? e.message : 'Bad request.' };
  }
  return null;
}

export function wantsHtml(req: Request): boolean {
  return req.accepts(['json', 'html']) === 'html' && !req.path.startsWith('/api/');
}

/** `copy` replaces the page's default end-user copy for the code (e.g. a refused sign-out speaks of signing out). */
export function sendError(req: Request, res: Response, body: HttpErrorBody, reference?: string, options: { copy?: EndUserCopy } = {}): void {
  if (res.headersSent) return;
  res.status(body.status);
  if (wantsHtml(req)) {
    res.render('error', { code: body.code, copy: options.copy ?? endUserCopy(body.code, body.message), reference: reference ?? null });
    return;
  }
  res.json({ error: { code: body.code, message: body.message, ...(body.details ? { details: body.details } : {}), ...(reference ? { reference } : {}) } });
}

export const errorHandler: ErrorRequestHandler = (error, req, res, _next) => {
  const mapped = toHttpError(error);
  if (mapped) {
    req.log?.info({ code: mapped.code, status: mapped.status }, 'request refused');
    sendError(req, res, mapped);
    return;
  }
  const reference = referenceCode();
  req.log?.error({ err: error, reference }, 'unhandled error');
  sendError(req, res, { status: 500, code: 'internal_error', message: 'Something went wrong on our side.' }, reference);
};

export function notFound(req: Request, res: Response): void {
  sendError(req, res, { status: 404, code: 'not_found', message: 'No such page.' });
}
