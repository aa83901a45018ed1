import { ENTRA_CLAIMS, identityFromAssertion } from '../../src/saml/claims';
import type { AcceptedAssertion } from '../../src/saml/types';

function assertion(attributes: Record<string, string[]>, nameId = 'alice@contoso.com', nameIdFormat: string | null = null): AcceptedAssertion {
  return { issuer: 'https://sts.windows.net/t/', assertionId: '_a', nameId, nameIdFormat, sessionIndex: null, inResponseTo: null, attributes, returnTo: null };
}

describe('identityFromAssertion', () => {
  it('reads the Entra claims', () => {
    const id = identityFromAssertion(
      assertion({
        [ENTRA_CLAIMS.name]: ['Alice@Contoso.com'],
        [ENTRA_CLAIMS.email]: ['alice.smith@contoso.com'],
        [ENTRA_CLAIMS.givenName]: ['Alice'],
        [ENTRA_CLAIMS.surname]: ['Smith'],
        [ENTRA_CLAIMS.displayName]: ['Alice Smith (Eng)'],
        [ENTRA_CLAIMS.objectId]: ['0b8e2f6c-1111-4d7c-9f65-3a9d2b1c0e77'],
        [ENTRA_CLAIMS.groups]: ['a1b2c3d4-0000-0000-0000-000000000001', 'a1b2c3d4-0000-0000-0000-000000000002', 'a1b2c3d4-0000-0000-0000-000000000001'],
      }),
    );
    expect(id).toEqual({
      upn: 'Alice@Contoso.com',
      email: 'alice.smith@contoso.com',
      givenName: 'Alice',
      familyName: 'Smith',
      displayName: 'Alice Smith (Eng)',
      immutableId: '0b8e2f6c-1111-4d7c-9f65-3a9d2b1c0e77',
      groups: ['a1b2c3d4-0000-0000-0000-000000000001', 'a1b2c3d4-0000-0000-0000-000000000002'],
      groupsOverage: false,
    });
  });

  it('treats the groups overage claim as "unknown", never as "member of nothing"', () => {
    const id = identityFromAssertion(assertion({ [ENTRA_CLAIMS.groupsOverage]: ['https://graph.microsoft.com/v1.0/users/x/getMemberObjects'] }));
    expect(id.groups).toBeNull();
    expect(id.groupsOverage).toBe(true);
  });

  it('reads no groups claim as an empty list when there is no overage', () => {
    expect(identityFromAssertion(assertion({})).groups).toEqual([]);
  });

  it('falls back to the NameID for the UPN and pins a persistent NameID as the immutable id', () => {
    const id = identityFromAssertion(assertion({ email: ['bob@fabrikam.com'], groups: ['Engineering'] }, 'bob-123', 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent'));
    expect(id.upn).toBe('bob-123');
    expect(id.email).toBe('bob@fabrikam.com');
    expect(id.immutableId).toBe('bob-123');
    expect(id.groups).toEqual(['Engineering']);
  });

  it('does not pin a transient or email NameID', () => {
    expect(identityFromAssertion(assertion({}, 'x', 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient')).immutableId).toBeNull();
    expect(identityFromAssertion(assertion({}, 'x@y.com', 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress')).immutableId).toBeNull();
  });
});

describe('identityFromAssertion with a configured groups claim', () => {
  it('reads groups only from the configured claim', () => {
    const a = assertion({ groups: ['Ignored'], 'https://idp.example/claims/roles': ['Admins', 'Readers'] });
    expect(identityFromAssertion(a, { groupsClaim: 'https://idp.example/claims/roles' }).groups).toEqual(['Admins', 'Readers']);
    expect(identityFromAssertion(a).groups).toEqual(['Ignored']);
  });
});
