// Building blocks of the config schemas: numbers, durations, names, addresses, commands, with
// the operator-facing error texts. Shared by schema.ts and the section schemas beside it.
import { z } from 'zod';
import { parsePrefix, parseUnicast, type Family } from '../core/addr.js';
import { show } from './messages.js';


/** Replace zod's "expected object" with what the operator should have written here. */
export const expecting = (what: string): z.core.$ZodErrorMap => (iss) =>
  iss.code === 'invalid_type' && iss.input !== undefined ? `expected ${what}, got ${show(iss.input)}` : undefined;

export const intIn = (min: number, max: number) =>
  z.number().refine((n) => Number.isInteger(n) && n >= min && n <= max, {
    error: (iss) =>
      `must be ${Number.isInteger(iss.input) ? '' : 'a whole number '}${min}..${max}, got ${show(iss.input)}`,
  });

/** A duration in seconds (fractions allowed), min..max inclusive. */
export const seconds = (min: number, max: number) =>
  z.number().refine((n) => n >= min && n <= max, {
    error: (iss) => `must be ${min}..${max} seconds, got ${show(iss.input)}`,
  });

export const ms = (s: number): number => Math.round(s * 1000);

/** Instance, script and group names: they end up in logs, env vars and control commands. */
export const objectName = z.string().regex(/^(?!__proto__$)[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}$/, {
  error: (iss) => `must be 1..64 characters of A-Z a-z 0-9 _ . : -, got ${show(iss.input)}`,
});

/** Linux interface name (dev_valid_name): 1..15 bytes, no '/', ':' or whitespace, not "." or "..". */
export const ifName = z.string().regex(/^(?!\.\.?$)[^\s/:]{1,15}$/, {
  error: (iss) => `must be an interface name (1..15 characters, no '/', ':' or spaces), got ${show(iss.input)}`,
});

/**
 * A command as an argv array, run without a shell. The program is an absolute path: no PATH
 * search decides what runs (script security checks that path, scripts section).
 */
export const argv = z
  .array(z.string(), { error: expecting('a command as a list [program, arg, ...]') })
  .min(1)
  .refine((a) => a[0] !== '', { path: [0], error: 'program must not be empty' })
  .refine((a) => a.length === 0 || a[0] === '' || a[0]!.startsWith('/'), {
    path: [0],
    error: (iss) => `program must be an absolute path (no PATH search), got ${show((iss.input as string[])[0])}`,
  });

export const unicastIp = z.string().transform((s, ctx) => {
  const r = parseUnicast(s);
  if (!r.ok) {
    ctx.issues.push({ code: 'custom', message: r.error, input: s });
    return z.NEVER;
  }
  return r.value;
});

export const ipPrefix = z.string().transform((s, ctx) => {
  const r = parsePrefix(s);
  if (!r.ok) {
    ctx.issues.push({ code: 'custom', message: r.error, input: s });
    return z.NEVER;
  }
  return r.value;
});

/** Drop undefined-valued keys so optional output fields are absent rather than present-undefined. */
export type Simplify<T> = { [K in keyof T]: T[K] } & {};
export type Compact<T> = Simplify<
  { [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & {
    [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
  }
>;
export function compact<T extends Record<string, unknown>>(o: T): Compact<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as Compact<T>;
}

/** A list entry written either as a bare string or as a mapping; the string becomes {[key]: s}. */
export const stringOr = <S extends z.ZodType>(key: string, obj: S) =>
  z.preprocess((v) => (typeof v === 'string' ? { [key]: v } : v), obj);

export const familyName = (f: Family): string => (f === 4 ? 'IPv4' : 'IPv6');

