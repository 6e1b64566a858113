import type { z } from 'zod'
import { type FieldProblem, ValidationError } from '../errors.js'

/** Parses with zod; on failure throws a ValidationError that names every bad field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, root: string): z.output<S> {
  const result = schema.safeParse(value)
  if (result.success) return result.data
  throw new ValidationError(result.error.issues.flatMap((issue) => fieldProblems(root, issue)))
}

function fieldProblems(root: string, issue: z.core.$ZodIssue): FieldProblem[] {
  const field = (...extra: PropertyKey[]) => [root, ...issue.path, ...extra].map(String).join('.')
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ field: field(key), message: 'is not a known field' }))
  }
  return [{ field: field(), message: issue.message }]
}
