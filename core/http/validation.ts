import type { z } from 'zod'
import { ValidationError } from '../errors.js'

/** Parses with zod; on failure throws a ValidationError that names every bad field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, root: string): z.output<S> {
  const result = schema.safeParse(value)
  if (result.success) return result.data
  throw new ValidationError(
    result.error.issues.map((issue) => ({
      field: [root, ...issue.path.map(String)].join('.'),
      message: issue.message,
    })),
  )
}
