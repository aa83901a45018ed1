/**
 * Configuration from the environment, validated with zod. Pure: reads only the object it is given (and, for the
 * SAML_WORKERS default, how many CPUs the process may use).
 * A bad value yields a ConfigError naming the variable; main turns it into one line on stderr and exit code 2.
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const booleanFlag = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'].includes(v), 'must be true or false')
  .transform((v) => ['true', '1', 'yes', 'on'].includes(v));

const positiveInt = (max: number) => z.coerce.number().int('must be a whole number').min(1).max(max);

const httpOrigin = z
  .string()
  .trim()
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password && !u.search && !u.hash;
    } catch {
      return false;
    }
  }, 'must be an absolute http(s) URL without credentials, query or fragment, e.g. https://sso.example.com')
  .transform((v) => v.replace(/\/+$/, ''));

const secret = (name: string) =>
  z.string().min(32, `must be at least 32 characters (generate one with: openssl rand -base64 48) — ${name}`);

const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: positiveInt(65535).default(3000),
  HOST: z.string().trim().min(1).default('0.0.0.0'),
  BASE_URL: httpOrigin.optional(),
  DATABASE_URL: z
    .string()
    .trim()
    .refine((v) => /^(sqlite:.+|mongodb(\+srv)?:\/\/.+)$/.test(v), 'must be sqlite:<path>, sqlite::memory: or mongodb://...')
    .default('sqlite:./data/gatehouse.db'),
  DATA_DIR: z.string().trim().min(1).default('./data'),
  SESSION_SECRET: secret('SESSION_SECRET').optional(),
  ADMIN_API_KEY: secret('ADMIN_API_KEY').optional(),
  SP_KEY_FILE: z.string().trim().min(1).optional(),
  SP_CERT_FILE: z.string().trim().min(1).optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  TRUST_PROXY: z.string().trim().default('false'),
  SESSION_IDLE_MINUTES: positiveInt(60 * 24 * 30).default(60),
  SESSION_ABSOLUTE_HOURS: positiveInt(24 * 90).default(12),
  ALLOW_PRIVATE_METADATA_URLS: booleanFlag.default(false),
  ACS_RATE_LIMIT_PER_MINUTE: positiveInt(1_000_000).default(600),
  EVENT_RETENTION_DAYS: positiveInt(3650).default(90),
  SCIM_RATE_LIMIT_PER_MINUTE: positiveInt(10_000_000).default(6000),
  SMTP_URL: z
    .string()
    .trim()
    .refine((v) => {
      try {
        const u = new URL(v);
        return (u.protocol === 'smtp:' || u.protocol === 'smtps:') && u.hostname !== '';
      } catch {
        return false;
      }
    }, 'must be smtp://[user:password@]host[:port] or smtps://...')
    .optional(),
  SMTP_FROM: z.string().trim().email('must be an email address, e.g. gatehouse@example.com').optional(),
  SAML_WORKERS: z.coerce.number().int('must be a whole number').min(0).max(256).optional(),
  ADMIN_TENANT: z.string().trim().toLowerCase().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a tenant slug, e.g. contoso').optional(),
  ADMIN_GROUP: z.string().trim().min(1).max(256).optional(),
});

export type ParsedEnv = z.infer<typeof EnvSchema>;

export interface Settings {
  env: ParsedEnv['NODE_ENV'];
  port: number;
  host: string;
  baseUrl: string;
  databaseUrl: string;
  dataDir: string;
  sessionSecret: string | null;
  adminApiKey: string | null;
  spKeyFile: string | null;
  spCertFile: string | null;
  logLevel: ParsedEnv['LOG_LEVEL'];
  /** Passed to Express' 'trust proxy' setting: false, a hop count, or proxy addresses. */
  trustProxy: false | number | string;
  sessionIdleMs: number;
  sessionAbsoluteMs: number;
  allowPrivateMetadataUrls: boolean;
  acsRateLimitPerMinute: number;
  /** Provisioning-log entries older than this are deleted. */
  eventRetentionMs: number;
  /** Requests per minute per SCIM token. */
  scimRateLimitPerMinute: number;
  /** Outgoing mail (SCIM token expiry alerts); null: alerts are logged and flagged only. */
  smtp: { url: string; from: string } | null;
  /** Worker threads validating SAML signatures; 0 validates on the main thread. */
  samlWorkers: number;
  /** Admin console sign-in by SAML: members of this group (external id or name) of this tenant are admins. */
  adminTenant: string | null;
  adminGroup: string | null;
}

/** SAML_WORKERS when unset: one worker per CPU the process may use. */
export function defaultSamlWorkers(): number {
  return Math.max(1, availableParallelism());
}

function parseTrustProxy(raw: string): false | number | string {
  const v = raw.toLowerCase();
  if (['false', '0', 'no', 'off', ''].includes(v)) return false;
  // 'true' would trust any X-Forwarded-For a client sends, so anyone could dodge the per-client rate limits.
  if (['true', 'yes', 'on'].includes(v)) {
    throw new ConfigError('TRUST_PROXY', 'must name the proxies, not trust everyone: give a hop count (e.g. 1) or proxy addresses (e.g. loopback, 10.0.0.0/8)');
  }
  if (/^\d+$/.test(v)) return Number(v);
  // A comma-separated list of addresses/subnets or names Express understands ('loopback', '10.0.0.0/8').
  if (/^[\w.:/,\s-]+$/.test(raw)) return raw;
  throw new ConfigError('TRUST_PROXY', 'must be false, a hop count, or a comma-separated list of proxy addresses');
}

/** Validates the environment. Throws ConfigError naming the first bad variable. */
export function parseEnv(env: NodeJS.ProcessEnv): Settings {
  const relevant: Record<string, string> = {};
  for (const key of Object.keys(EnvSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') relevant[key] = value;
  }
  const result = EnvSchema.safeParse(relevant);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'environment');
    throw new ConfigError(variable, issue.message);
  }
  const e = result.data;
  if (e.NODE_ENV === 'production') {
    for (const name of ['BASE_URL', 'SESSION_SECRET', 'ADMIN_API_KEY', 'SP_KEY_FILE', 'SP_CERT_FILE'] as const) {
      if (!e[name]) throw new ConfigError(name, 'is required when NODE_ENV=production');
    }
  }
  if ((e.SP_KEY_FILE && !e.SP_CERT_FILE) || (!e.SP_KEY_FILE && e.SP_CERT_FILE)) {
    throw new ConfigError(e.SP_KEY_FILE ? 'SP_CERT_FILE' : 'SP_KEY_FILE', 'SP_KEY_FILE and SP_CERT_FILE must be set together');
  }
  // Both or neither: a tenant alone would make every one of its users an admin.
  if (Boolean(e.ADMIN_TENANT) !== Boolean(e.ADMIN_GROUP)) {
    throw new ConfigError(e.ADMIN_TENANT ? 'ADMIN_GROUP' : 'ADMIN_TENANT', 'ADMIN_TENANT and ADMIN_GROUP must be set together');
  }
  if (e.SMTP_URL && !e.SMTP_FROM) throw new ConfigError('SMTP_FROM', 'is required when SMTP_URL is set (the sender of alert mails)');
  if (e.SESSION_ABSOLUTE_HOURS * 60 < e.SESSION_IDLE_MINUTES) {
    throw new ConfigError('SESSION_IDLE_MINUTES', 'must not exceed SESSION_ABSOLUTE_HOURS');
  }
  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    baseUrl: e.BASE_URL ?? `http://localhost:${e.PORT}`,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    sessionSecret: e.SESSION_SECRET ?? null,
    adminApiKey: e.ADMIN_API_KEY ?? null,
    spKeyFile: e.SP_KEY_FILE ?? null,
    spCertFile: e.SP_CERT_FILE ?? null,
    logLevel: e.LOG_LEVEL,
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    sessionIdleMs: e.SESSION_IDLE_MINUTES * 60_000,
    sessionAbsoluteMs: e.SESSION_ABSOLUTE_HOURS * 3_600_000,
    allowPrivateMetadataUrls: e.ALLOW_PRIVATE_METADATA_URLS,
    acsRateLimitPerMinute: e.ACS_RATE_LIMIT_PER_MINUTE,
    eventRetentionMs: e.EVENT_RETENTION_DAYS * 86_400_000,
    scimRateLimitPerMinute: e.SCIM_RATE_LIMIT_PER_MINUTE,
    smtp: e.SMTP_URL ? { url: e.SMTP_URL, from: e.SMTP_FROM! } : null,
    samlWorkers: e.SAML_WORKERS ?? defaultSamlWorkers(),
    adminTenant: e.ADMIN_TENANT ?? null,
    adminGroup: e.ADMIN_GROUP ?? null,
  };
}
