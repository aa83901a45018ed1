/** Shared fixtures and assertions for the SCIM tests. */
import { ScimError, type ScimErrorType } from '../../src/scim/errors';
import type { ScimGroupResource, ScimUserResource } from '../../src/scim/resources';
import { CORE_GROUP_SCHEMA, CORE_USER_SCHEMA } from '../../src/scim/schemas';

/** Runs `action` and checks it throws a ScimError with this status and scimType; returns the error for more checks. */
export function expectScimError(action: () => unknown, status: number, scimType: ScimErrorType | undefined): ScimError {
  let thrown: unknown;
  try {
    action();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ScimError);
  const error = thrown as ScimError;
  expect({ status: error.status, scimType: error.scimType }).toEqual({ status, scimType });
  expect(error.detail.length).toBeGreaterThan(0);
  return error;
}

export function user(fields: Partial<ScimUserResource> & { id: string; userName: string }): ScimUserResource {
  return {
    schemas: [CORE_USER_SCHEMA],
    meta: { resourceType: 'User', created: '2024-01-01T00:00:00.000Z', lastModified: '2024-01-01T00:00:00.000Z' },
    ...fields,
  };
}

export function group(fields: Partial<ScimGroupResource> & { id: string; displayName: string }): ScimGroupResource {
  return {
    schemas: [CORE_GROUP_SCHEMA],
    meta: { resourceType: 'Group', created: '2024-01-01T00:00:00.000Z', lastModified: '2024-01-01T00:00:00.000Z' },
    ...fields,
  };
}

/** Deep-freezes a fixture so any mutation by the code under test throws. */
export function frozen<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const item of Object.values(value)) frozen(item);
    Object.freeze(value);
  }
  return value;
}
