import { hashToken, randomSecret, secretsEqual } from '../../src/common/secrets';

describe('secrets', () => {
  it('generates distinct URL-safe secrets with the requested entropy', () => {
    const a = randomSecret();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(randomSecret()).not.toBe(a);
    expect(randomSecret(16)).toHaveLength(22);
  });
  it('hashes tokens to SHA-256 hex and never returns the token', () => {
    expect(hashToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
  it('compares secrets exactly', () => {
    expect(secretsEqual('s3cret-value', 's3cret-value')).toBe(true);
    expect(secretsEqual('s3cret-value', 's3cret-valuE')).toBe(false);
    expect(secretsEqual('', 's3cret-value')).toBe(false);
    expect(secretsEqual('s3cret-value-longer', 's3cret-value')).toBe(false);
  });
});
