/**
 * Structured logging (pino). Redaction is configured here once, so no request header, SAML message or cookie
 * can reach a log line through any logger derived from this one.
 */
import pino from 'pino';

export type Logger = pino.Logger;

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'req.body.SAMLResponse',
  'req.body.SAMLRequest',
  'req.query.SAMLRequest',
  'req.query.SAMLResponse',
  'req.query.Signature',
  'token',
  'password',
  'secret',
  '*.token',
  '*.password',
  '*.secret',
  '*.SAMLResponse',
];

export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service: 'gatehouse' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  });
}

/** A logger that writes nothing, for tests and CLI commands that print their own output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
