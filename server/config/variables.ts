import { z } from 'zod';

/** Value schemas that several concerns use; a concern's own formats live in its module. */
export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
export const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
export const timeUnit = (fallback: string) =>
  z
    .string()
    .regex(/^\d+(d|h|m|s)$/, 'a time unit such as 30d')
    .default(fallback);
const millisecondsPerUnit: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };
/** A time unit such as 24h, as milliseconds. */
export const durationMs = (fallback: string) =>
  timeUnit(fallback).transform((value) => {
    const unit = value.slice(-1);
    return Number(value.slice(0, -1)) * (millisecondsPerUnit[unit] ?? Number.NaN);
  });
export const list = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean),
);

const byteUnits: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 };
/** `1000000`, `500mb` or `10gb`, as a number of bytes. */
export function parseBytes(text: string): number | undefined {
  const match = /^(\d+)(b|kb|mb|gb|tb)?$/i.exec(text.trim());
  return match ? Number(match[1]) * (byteUnits[(match[2] ?? 'b').toLowerCase()] ?? 1) : undefined;
}
export const byteSize = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value, context) => {
      const bytes = parseBytes(value);
      if (bytes === undefined || bytes < 1) {
        context.addIssue({ code: 'custom', message: `"${value}" is not a byte size such as 500mb or 10gb` });
        return z.NEVER;
      }
      return bytes;
    });
