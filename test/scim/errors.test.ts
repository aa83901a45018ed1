import {
  AppError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  PayloadTooLargeError,
  UnauthorizedError,
  ValidationError,
} from '../../src/common/errors';
import { ScimError, SCIM_ERROR_SCHEMA, toScimErrorBody } from '../../src/scim/errors';

describe('toScimErrorBody', () => {
  it('a ScimError: the SCIM error schema, status as a string', () => {
    const body = toScimErrorBody(new ScimError(400, 'invalidFilter', 'The filter is empty.'));
    expect(body).toEqual({ schemas: [SCIM_ERROR_SCHEMA], status: '400', scimType: 'invalidFilter', detail: 'The filter is empty.' });
    expect(typeof body.status).toBe('string');
    expect(JSON.stringify(body)).toContain('"status":"400"');
  });

  it('omits scimType when there is none', () => {
    expect(toScimErrorBody(new ScimError(404, undefined, 'Resource u1 not found.'))).toEqual({
      schemas: [SCIM_ERROR_SCHEMA],
      status: '404',
      detail: 'Resource u1 not found.',
    });
  });

  it.each([
    [new ValidationError('bad'), '400', 'invalidValue'],
    [new NotFoundError('User u1 not found.'), '404', undefined],
    [new ConflictError('userName is taken.'), '409', 'uniqueness'],
    [new UnauthorizedError(), '401', undefined],
    [new ForbiddenError('no'), '403', undefined],
    [new PayloadTooLargeError(), '413', undefined],
  ])('maps %p to %s %s', (error, status, scimType) => {
    const body = toScimErrorBody(error);
    expect(body.status).toBe(status);
    expect(body.scimType).toBe(scimType);
    expect(body.detail).toBe(error.message);
  });

  it('maps body-parser errors', () => {
    expect(toScimErrorBody(Object.assign(new Error('Unexpected token'), { status: 400, type: 'entity.parse.failed' }))).toEqual({
      schemas: [SCIM_ERROR_SCHEMA],
      status: '400',
      scimType: 'invalidSyntax',
      detail: 'Request body is not valid JSON.',
    });
    expect(toScimErrorBody(Object.assign(new Error('too large'), { status: 413, type: 'entity.too.large' })).status).toBe('413');
  });

  it('never leaks the message of an unexpected error', () => {
    expect(toScimErrorBody(new Error('SELECT * FROM secrets failed'))).toEqual({
      schemas: [SCIM_ERROR_SCHEMA],
      status: '500',
      detail: 'Internal server error.',
    });
    expect(toScimErrorBody('a string')).toMatchObject({ status: '500' });
    expect(toScimErrorBody(null)).toMatchObject({ status: '500' });
  });

  it('ScimError is an AppError, so the generic HTTP handler still understands it', () => {
    const error = new ScimError(400, 'mutability', 'id is read-only.');
    expect(error).toBeInstanceOf(AppError);
    expect({ status: error.status, code: error.code, message: error.message }).toEqual({ status: 400, code: 'scim_mutability', message: 'id is read-only.' });
  });
});
