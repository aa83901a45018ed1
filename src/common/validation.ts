/** The one way request bodies and CLI input are validated: zod schemas, failures as ValidationError. */
import type { z } from 'zod';
import { ValidationError } from './errors';

export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what = 'request body'): z.infer<S> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '(root)',
    message: issue.message,
  }));
  const first = issues[0]!;
  throw new ValidationError(`Invalid ${what}: ${first.path}: ${first.message}`, { issues });
}
