import { availableParallelism } from 'node:os';
import { ConfigError, defaultSamlWorkers, parseEnv } from '../../src/config/env';

const SECRET = 'x'.repeat(40);

function configErrorFor(env: NodeJS.ProcessEnv): ConfigError {
  try {
    parseEnv(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('parseEnv accepted the environment');
}

describe('parseEnv', () => {
  it('applies the documented defaults on an empty environment', () => {
    const s = parseEnv({});
    expect(s).toMatchObject({
      env: 'development',
      port: 3000,
      baseUrl: 'http://localhost:3000',
      databaseUrl: 'sqlite:./data/gatehouse.db',
      dataDir: './data',
      sessionSecret: null,
      adminApiKey: null,
      logLevel: 'info',
      trustProxy: false,
      allowPrivateMetadataUrls: false,
    });
    expect(s.sessionIdleMs).toBe(60 * 60_000);
    expect(s.sessionAbsoluteMs).toBe(12 * 3_600_000);
    expect(s.eventRetentionMs).toBe(90 * 86_400_000);
  });

  it('reads and normalises every variable', () => {
    const s = parseEnv({
      PORT: '8080',
      BASE_URL: 'https://sso.example.com/',
      DATABASE_URL: 'mongodb://db.internal:27017/gatehouse',
      SESSION_SECRET: SECRET,
      ADMIN_API_KEY: SECRET,
      LOG_LEVEL: 'warn',
      TRUST_PROXY: '2',
      SESSION_IDLE_MINUTES: '15',
      SESSION_ABSOLUTE_HOURS: '8',
      ALLOW_PRIVATE_METADATA_URLS: 'yes',
    });
    expect(s).toMatchObject({
      port: 8080,
      baseUrl: 'https://sso.example.com',
      databaseUrl: 'mongodb://db.internal:27017/gatehouse',
      sessionSecret: SECRET,
      adminApiKey: SECRET,
      logLevel: 'warn',
      trustProxy: 2,
      sessionIdleMs: 15 * 60_000,
      sessionAbsoluteMs: 8 * 3_600_000,
      allowPrivateMetadataUrls: true,
    });
    expect(parseEnv({ TRUST_PROXY: 'loopback, 10.0.0.0/8' }).trustProxy).toBe('loopback, 10.0.0.0/8');
    expect(parseEnv({ TRUST_PROXY: '0' }).trustProxy).toBe(false);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ BASE_URL: 'sso.example.com' }, 'BASE_URL'],
    [{ BASE_URL: 'ftp://sso.example.com' }, 'BASE_URL'],
    [{ BASE_URL: 'https://user:pw@sso.example.com' }, 'BASE_URL'],
    [{ DATABASE_URL: 'postgres://x' }, 'DATABASE_URL'],
    [{ SESSION_SECRET: 'short' }, 'SESSION_SECRET'],
    [{ ADMIN_API_KEY: 'short' }, 'ADMIN_API_KEY'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ TRUST_PROXY: 'yes please!' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: 'true' }, 'TRUST_PROXY'],
    [{ ALLOW_PRIVATE_METADATA_URLS: 'maybe' }, 'ALLOW_PRIVATE_METADATA_URLS'],
    [{ SESSION_IDLE_MINUTES: '600', SESSION_ABSOLUTE_HOURS: '1' }, 'SESSION_IDLE_MINUTES'],
    [{ SP_KEY_FILE: '/k.pem' }, 'SP_CERT_FILE'],
    [{ EVENT_RETENTION_DAYS: '0' }, 'EVENT_RETENTION_DAYS'],
    [{ SAML_WORKERS: '-1' }, 'SAML_WORKERS'],
    [{ SAML_WORKERS: '1.5' }, 'SAML_WORKERS'],
    [{ SAML_WORKERS: 'many' }, 'SAML_WORKERS'],
    [{ SAML_WORKERS: '1000' }, 'SAML_WORKERS'],
  ])('names the bad variable in %j', (env, variable) => {
    const error = configErrorFor(env);
    expect(error.variable).toBe(variable);
    expect(error.message.startsWith(`${variable}: `)).toBe(true);
  });

  it('runs one SAML validation worker per available CPU unless SAML_WORKERS says otherwise (0: inline)', () => {
    expect(defaultSamlWorkers()).toBe(Math.max(1, availableParallelism()));
    expect(parseEnv({}).samlWorkers).toBe(defaultSamlWorkers());
    expect(parseEnv({ SAML_WORKERS: '' }).samlWorkers).toBe(defaultSamlWorkers());
    expect(parseEnv({ SAML_WORKERS: '0' }).samlWorkers).toBe(0);
    expect(parseEnv({ SAML_WORKERS: ' 3 ' }).samlWorkers).toBe(3);
  });

  it('refuses production without its secrets, one variable at a time', () => {
    const full = {
      NODE_ENV: 'production',
      BASE_URL: 'https://sso.example.com',
      SESSION_SECRET: SECRET,
      ADMIN_API_KEY: SECRET,
      SP_KEY_FILE: '/etc/gatehouse/sp.key',
      SP_CERT_FILE: '/etc/gatehouse/sp.crt',
    };
    expect(() => parseEnv(full)).not.toThrow();
    for (const name of ['BASE_URL', 'SESSION_SECRET', 'ADMIN_API_KEY', 'SP_KEY_FILE'] as const) {
      const env: NodeJS.ProcessEnv = { ...full };
      delete env[name];
      if (name === 'SP_KEY_FILE') delete env.SP_CERT_FILE;
      expect(configErrorFor(env).variable).toBe(name);
    }
  });
});

// The SCIM and SMTP settings (SMTP_URL, SMTP_FROM, SCIM_RATE_LIMIT_PER_MINUTE).
describe('SCIM and SMTP settings', () => {
  it('defaults: no SMTP (alerts are logged and flagged only), 6000 SCIM requests per minute per token', () => {
    expect(parseEnv({})).toMatchObject({ smtp: null, scimRateLimitPerMinute: 6000 });
  });

  it('reads SMTP_URL with SMTP_FROM, and the rate limit', () => {
    expect(parseEnv({ SMTP_URL: 'smtps://alerts:pw@mail.example.com:465', SMTP_FROM: 'gatehouse@example.com', SCIM_RATE_LIMIT_PER_MINUTE: '120' })).toMatchObject({
      smtp: { url: 'smtps://alerts:pw@mail.example.com:465', from: 'gatehouse@example.com' },
      scimRateLimitPerMinute: 120,
    });
  });

  it('names the variable that is wrong', () => {
    expect(configErrorFor({ SMTP_URL: 'http://mail.example.com' }).variable).toBe('SMTP_URL');
    expect(configErrorFor({ SMTP_URL: 'smtp://mail.example.com' }).variable).toBe('SMTP_FROM');
    expect(configErrorFor({ SMTP_URL: 'smtp://mail.example.com', SMTP_FROM: 'not-an-email' }).variable).toBe('SMTP_FROM');
    expect(configErrorFor({ SCIM_RATE_LIMIT_PER_MINUTE: '0' }).variable).toBe('SCIM_RATE_LIMIT_PER_MINUTE');
  });
});
