import { z } from 'zod'

/**
 * User-supplied text that is stored or queried: trimmed, 1 to `max` characters, and free of NUL,
 * which PostgreSQL cannot store in text (it would otherwise surface as a 500).
 */
export const Text = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((s) => !s.includes('\u0000'), 'must not contain NUL characters')
