/**
 * The one error vocabulary of Gatehouse. Every layer throws these; src/http maps them to
 * `{ "error": { "code", "message" } }` with `status`, and the SCIM layer maps them to its own error schema.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  constructor(message: string, details?: Record<string, unknown>, code = 'invalid_request') {
    super(400, code, message, details);
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'Authentication required.', code = 'unauthorized') {
    super(401, code, message);
  }
}

export class ForbiddenError extends AppError {
  constructor(message: string, code = 'forbidden') {
    super(403, code, message);
  }
}

export class NotFoundError extends AppError {
  constructor(message: string, code = 'not_found') {
    super(404, code, message);
  }
}

export class ConflictError extends AppError {
  constructor(message: string, code = 'conflict', details?: Record<string, unknown>) {
    super(409, code, message, details);
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(message = 'Request body is too large.') {
    super(413, 'payload_too_large', message);
  }
}

export class UpstreamError extends AppError {
  constructor(message: string, code = 'upstream_error') {
    super(502, code, message);
  }
}
