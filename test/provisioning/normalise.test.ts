import { domainOf, normaliseDomain, normaliseKey } from '../../src/provisioning/normalise';

describe('normaliseKey', () => {
  it('folds case with full Unicode rules, not ASCII-only', () => {
    expect(normaliseKey('ÄLICE@Contoso.com')).toBe(normaliseKey('älice@contoso.com'));
    expect(normaliseKey('STRASSE')).toBe(normaliseKey('straße'));
    expect(normaliseKey('ΟΔΥΣΣΕΥΣ')).toBe(normaliseKey('οδυσσευς'));
  });

  it('composes to NFC so decomposed and precomposed spellings are one key', () => {
    const decomposed = 'A\u0308lice'; // A + combining diaeresis
    expect(normaliseKey(decomposed)).toBe(normaliseKey('Älice'));
    expect(normaliseKey(decomposed)).toBe('älice');
  });

  it('trims surrounding whitespace but keeps inner characters', () => {
    expect(normaliseKey('  Bob.Smith@Contoso.COM \n')).toBe('bob.smith@contoso.com');
    expect(normaliseKey('bob smith')).not.toBe(normaliseKey('bobsmith'));
  });

  it('keeps distinct identities distinct', () => {
    expect(normaliseKey('alice@contoso.com')).not.toBe(normaliseKey('alice@contoso.co'));
    expect(normaliseKey('ålice')).not.toBe(normaliseKey('alice'));
  });
});

describe('domainOf / normaliseDomain', () => {
  it('extracts the normalised domain of a UPN or email', () => {
    expect(domainOf('Alice@Contoso.COM')).toBe('contoso.com');
    expect(domainOf('a@b@Fabrikam.com')).toBe('fabrikam.com');
    expect(domainOf('no-domain')).toBeNull();
    expect(domainOf('trailing@')).toBeNull();
  });
  it('normalises an admin-typed domain', () => {
    expect(normaliseDomain(' @Contoso.com. ')).toBe('contoso.com');
  });
});
