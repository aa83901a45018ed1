/**
 * The SCIM filter fixture set, shared by the store contract (every adapter translates filters in its database) and
 * the Mongo builder tests (the same filter documents evaluated in memory): accounts and groups of every kind a
 * connection's SCIM client can meet, and filters with the ids each must find. Every result is also compared with
 * matchesQuery, the reference semantics, on the resources the reconciler serves.
 */
import type { NewUser, ScimUserState } from '../../src/store/ports';
import { normaliseKey } from '../../src/provisioning/normalise';
import { ENTERPRISE_USER_SCHEMA, CORE_USER_SCHEMA } from '../../src/scim/schemas';

export type Owner = 'this' | 'other' | null;

export interface UserFixture {
  key: string;
  owner: Owner;
  /** Soft-deleted by this connection's client (hidden). */
  detached?: boolean;
  account: Omit<NewUser, 'tenantId' | 'usernameKey'>;
  /** SCIM state for owned accounts. */
  scim?: Omit<ScimUserState, 'userNameKey' | 'employeeNumber' | 'emails'>;
}

export function stateOf(fixture: UserFixture): ScimUserState {
  const resource = fixture.scim!.resource;
  const emails = (Array.isArray(resource.emails) ? resource.emails : []) as { value?: string; type?: string; primary?: boolean }[];
  const enterprise = resource[ENTERPRISE_USER_SCHEMA] as { employeeNumber?: string } | undefined;
  return {
    ...fixture.scim!,
    userNameKey: normaliseKey(fixture.scim!.userName),
    employeeNumber: enterprise?.employeeNumber ?? null,
    emails: emails.map((e) => ({ value: e.value ?? null, type: e.type ?? null, primary: e.primary === true })),
  };
}

export function newUserOf(tenantId: string, fixture: UserFixture): NewUser {
  return { tenantId, ...fixture.account, usernameKey: normaliseKey(fixture.account.username) };
}

function account(username: string, fields: Partial<UserFixture['account']> = {}): UserFixture['account'] {
  return { username, email: null, givenName: null, familyName: null, displayName: null, fullName: username, active: true, ...fields };
}

function owned(userName: string, resource: Record<string, unknown>, externalId: string | null = null): UserFixture['scim'] {
  return { externalId, userName, resource: { schemas: [CORE_USER_SCHEMA], userName, ...resource } };
}

export const USER_FIXTURES: UserFixture[] = [
  {
    key: 'ada',
    owner: null,
    account: account('Ada.Lovelace@contoso.example', { email: 'ada@contoso.example', givenName: 'Ada', familyName: 'Lovelace', displayName: 'Ada Lovelace' }),
  },
  {
    key: 'aerzte',
    owner: null,
    account: account('ÄRZTE.Müller@contoso.example', { givenName: 'Ärzte', displayName: 'ÄRZTE Müller', active: false }),
  },
  {
    key: 'bob',
    owner: null,
    account: account('bob@contoso.example', { email: '', displayName: '' }),
  },
  {
    key: 'grace',
    owner: 'this',
    account: account('grace@contoso.example', {
      email: 'Grace@Contoso.example',
      givenName: 'Grace',
      familyName: 'Hopper',
      displayName: 'Grace Hopper',
    }),
    scim: owned(
      'grace@contoso.example',
      {
        name: { givenName: 'Grace', familyName: 'Hopper', honorificPrefix: 'Rear Admiral' },
        displayName: 'Grace Hopper',
        emails: [
          { value: 'Grace@Contoso.example', type: 'work', primary: true },
          { value: 'g.hopper@home.example', type: 'home' },
        ],
        [ENTERPRISE_USER_SCHEMA]: { employeeNumber: 'E-100', department: 'Navy' },
      },
      'grace',
    ),
  },
  {
    key: 'linus',
    owner: 'this',
    account: account('linus@contoso.example', { email: 'linus@contoso.example', active: false }),
    scim: owned('linus@contoso.example', { emails: [{ value: 'linus@contoso.example', type: 'Other' }] }, 'Linus'),
  },
  {
    key: 'star',
    owner: 'this',
    account: account('star*[x]?@contoso.example', { email: 'weird*?[@contoso.example', displayName: 'Star' }),
    scim: owned('star*[x]?@contoso.example', { displayName: 'Star', emails: [{ value: 'weird*?[@contoso.example', type: 'work' }] }),
  },
  {
    key: 'other',
    owner: 'other',
    account: account('other@contoso.example', { email: 'other@contoso.example', displayName: 'Grace Other' }),
    scim: owned('other@contoso.example', { displayName: 'Grace Other' }, 'grace'),
  },
  {
    key: 'gone',
    owner: 'this',
    detached: true,
    account: account('gone@contoso.example', { displayName: 'Grace Gone' }),
    scim: owned('gone@contoso.example', { displayName: 'Grace Gone' }, 'gone'),
  },
];

/** In scope for `this` connection: unowned or owned by it, not detached. */
export const USERS_IN_SCOPE = ['ada', 'aerzte', 'bob', 'grace', 'linus', 'star'];

/** Filters, with the fixture keys each must find (and matchesQuery must agree). `$grace` is replaced by grace's id. */
export const USER_FILTERS: { filter: string; expect: string[] }[] = [
  { filter: 'userName eq "ADA.lovelace@contoso.example"', expect: ['ada'] },
  { filter: 'userName eq "ärzte.MÜLLER@contoso.example"', expect: ['aerzte'] },
  { filter: 'userName eq "00000000-0000-4000-8000-000000000000"', expect: [] },
  { filter: 'userName sw "GR"', expect: ['grace'] },
  { filter: 'userName co "*[x]?"', expect: ['star'] },
  { filter: 'userName co "*"', expect: ['star'] },
  { filter: 'userName ew "@contoso.example"', expect: USERS_IN_SCOPE },
  { filter: 'externalId eq "Linus"', expect: ['linus'] },
  { filter: 'externalId eq "linus"', expect: [] },
  { filter: 'externalId pr', expect: ['grace', 'linus'] },
  { filter: 'externalId ne "grace"', expect: ['ada', 'aerzte', 'bob', 'linus', 'star'] },
  { filter: 'displayName eq "grace HOPPER"', expect: ['grace'] },
  { filter: 'displayName co "ärzte"', expect: ['aerzte'] },
  { filter: 'displayName pr', expect: ['ada', 'aerzte', 'grace', 'star'] },
  { filter: 'not (displayName pr)', expect: ['bob', 'linus'] },
  { filter: 'displayName eq ""', expect: ['bob'] },
  { filter: 'active eq true', expect: ['ada', 'bob', 'grace', 'star'] },
  { filter: 'active eq "False"', expect: ['aerzte', 'linus'] },
  { filter: 'active ne true', expect: ['aerzte', 'linus'] },
  { filter: 'name.givenName sw "ÄR"', expect: ['aerzte'] },
  { filter: 'name.familyName pr', expect: ['ada', 'grace'] },
  { filter: 'emails.value eq "grace@contoso.EXAMPLE"', expect: ['grace'] },
  { filter: 'emails co "HOPPER"', expect: ['grace'] },
  { filter: 'emails.value co "[@"', expect: ['star'] },
  { filter: 'emails.type eq "work"', expect: ['ada', 'grace', 'star'] },
  { filter: 'emails.type eq "other"', expect: ['linus'] },
  { filter: 'emails[type eq "home" and value co "hopper"]', expect: ['grace'] },
  { filter: 'emails[type eq "work" and value co "hopper"]', expect: [] },
  { filter: 'emails[type eq "work"] and emails.value co "hopper"', expect: ['grace'] },
  { filter: 'emails[type eq "work"].value eq "ADA@contoso.example"', expect: ['ada'] },
  { filter: 'emails[not (type eq "work")]', expect: ['grace', 'linus'] },
  { filter: 'emails.value ne "ada@contoso.example"', expect: ['aerzte', 'bob', 'grace', 'linus', 'star'] },
  { filter: 'emails pr', expect: ['ada', 'grace', 'linus', 'star'] },
  { filter: 'not (emails pr)', expect: ['aerzte', 'bob'] },
  { filter: `${ENTERPRISE_USER_SCHEMA}:employeeNumber eq "e-100"`, expect: ['grace'] },
  { filter: 'id eq "$grace"', expect: ['grace'] },
  { filter: 'id ne "$grace"', expect: ['ada', 'aerzte', 'bob', 'linus', 'star'] },
  { filter: '(displayName pr and active eq true) or userName sw "linus"', expect: ['ada', 'grace', 'linus', 'star'] },
  { filter: 'not (userName ew "contoso.example") or emails.type eq "home"', expect: ['grace'] },
  { filter: 'meta.created ge "2000-01-01T00:00:00Z" and meta.lastModified lt "2999-01-01T00:00:00Z"', expect: USERS_IN_SCOPE },
  { filter: 'meta.created lt "2000-01-01T00:00:00Z"', expect: [] },
];

export interface GroupFixture {
  key: string;
  owner: Owner;
  detached?: boolean;
  displayName: string;
  externalId: string | null;
  /** Member fixture keys (this connection's SCIM memberships). */
  members: string[];
  /** Member fixture keys asserted by SAML (not SCIM members). */
  samlMembers?: string[];
}

export const GROUP_FIXTURES: GroupFixture[] = [
  { key: 'eng', owner: null, displayName: '5b8d2c1e-7a4f-4d3b-9e2a-1c0b9a8f7e6d', externalId: '5b8d2c1e-7a4f-4d3b-9e2a-1c0b9a8f7e6d', members: [], samlMembers: ['ada'] },
  { key: 'sales', owner: 'this', displayName: 'Sales', externalId: 'ext-sales', members: ['grace', 'linus'] },
  { key: 'aerzte', owner: 'this', displayName: 'Ärzteteam', externalId: null, members: ['grace'] },
  { key: 'foreign', owner: 'other', displayName: 'Sales Other', externalId: 'ext-other', members: [] },
  { key: 'gone', owner: 'this', detached: true, displayName: 'Sales Gone', externalId: 'ext-gone', members: [] },
];

export const GROUPS_IN_SCOPE = ['eng', 'sales', 'aerzte'];

/** `$grace` / `$linus` / `$ada` are replaced by those users' ids. */
export const GROUP_FILTERS: { filter: string; expect: string[] }[] = [
  { filter: 'displayName eq "SALES"', expect: ['sales'] },
  { filter: 'displayName co "ÄRZTE"', expect: ['aerzte'] },
  { filter: 'displayName sw "5B8D"', expect: ['eng'] },
  { filter: 'externalId eq "ext-sales"', expect: ['sales'] },
  { filter: 'externalId eq "EXT-SALES"', expect: [] },
  { filter: 'externalId pr', expect: ['eng', 'sales'] },
  { filter: 'externalId sw "gatehouse:"', expect: [] },
  { filter: 'members.value eq "$grace"', expect: ['sales', 'aerzte'] },
  { filter: 'members[value eq "$linus"]', expect: ['sales'] },
  { filter: 'members.value eq "$ada"', expect: [] },
  { filter: 'members pr', expect: ['sales', 'aerzte'] },
  { filter: 'not (members pr)', expect: ['eng'] },
  { filter: 'members.value ne "$grace"', expect: ['eng'] },
  { filter: 'displayName pr and not (externalId eq "ext-sales")', expect: ['eng', 'aerzte'] },
  { filter: 'meta.lastModified gt "2000-01-01T00:00:00Z"', expect: GROUPS_IN_SCOPE },
];
