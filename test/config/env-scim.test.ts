/** The SCIM and SMTP settings of the environment (SMTP_URL, SMTP_FROM, SCIM_RATE_LIMIT_PER_MINUTE). */
import { ConfigError, parseEnv } from '../../src/config/env';

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    parseEnv(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('parseEnv accepted the environment');
}

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
    expect(configError({ SMTP_URL: 'http://mail.example.com' }).variable).toBe('SMTP_URL');
    expect(configError({ SMTP_URL: 'smtp://mail.example.com' }).variable).toBe('SMTP_FROM');
    expect(configError({ SMTP_URL: 'smtp://mail.example.com', SMTP_FROM: 'not-an-email' }).variable).toBe('SMTP_FROM');
    expect(configError({ SCIM_RATE_LIMIT_PER_MINUTE: '0' }).variable).toBe('SCIM_RATE_LIMIT_PER_MINUTE');
  });
});
