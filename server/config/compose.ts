import { z } from 'zod';
import type { Concern } from './concern.ts';
import { processConcern } from './process.ts';

// biome-ignore lint/suspicious/noExplicitAny: any concern, whatever its shape and section
type AnyConcern = Concern<any, object>;
type UnionToIntersection<U> = (U extends unknown ? (union: U) => void : never) extends (
  intersection: infer I,
) => void
  ? I
  : never;
/** The sections of several concerns as one object (two concerns may share a key, such as `search`). */
type SectionsOf<Concerns extends readonly AnyConcern[]> = UnionToIntersection<
  ReturnType<Concerns[number]['section']>
>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** `PORT: ...`, and inside a list or JSON variable `JWT_ISSUERS: [1].audience: ...`. */
function describeIssue({ path: [variable = '(environment)', ...inner], message }: z.core.$ZodIssue): string {
  const where = inner
    .map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`))
    .join('')
    .replace(/^\./, '');
  return `${String(variable)}: ${where ? `${where}: ` : ''}${message}`;
}

/** Merges sections one level deep, so two concerns may each fill part of one section. */
function mergeSections(sections: object[]): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  for (const section of sections) {
    for (const [key, value] of Object.entries(section)) {
      const existing = merged[key];
      merged[key] = isPlainObject(existing) && isPlainObject(value) ? { ...existing, ...value } : value;
    }
  }
  return merged;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

/**
 * A loader for one service: the environment checked once against the
 * variables of the process concern and the concerns the service composes,
 * and nothing else, so a variable a service never reads cannot stop it.
 */
export function configLoader<const Concerns extends readonly AnyConcern[]>(...composed: Concerns) {
  const concerns: readonly AnyConcern[] = [processConcern, ...composed];
  const schema = z.object(mergeShapes(concerns)).superRefine((env, context) => {
    const production = env.NODE_ENV === 'production';
    for (const concern of concerns) concern.check?.(env, context, production);
  });
  type Config = SectionsOf<[typeof processConcern, ...Concerns]>;
  return (env: Record<string, string | undefined> = process.env): Config => {
    // An empty variable counts as unset (compose's `${VAR:-}`); coerced, it would read as 0, such as PORT 0.
    const parsed = schema.safeParse(
      Object.fromEntries(Object.entries(env).filter(([, value]) => value !== '')),
    );
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) => `  ${describeIssue(issue)}`);
      throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);
    }
    const production = parsed.data.NODE_ENV === 'production';
    return mergeSections(concerns.map((concern) => concern.section(parsed.data, production))) as Config;
  };
}

/** One variable, one schema: a concern that also reads another's variable reuses that concern's schema. */
function mergeShapes(concerns: readonly AnyConcern[]): z.ZodRawShape {
  const shape: Record<string, z.core.$ZodType> = {};
  for (const concern of concerns) {
    for (const [variable, schema] of Object.entries(concern.shape as z.ZodRawShape)) {
      if (shape[variable] && shape[variable] !== schema) {
        throw new Error(`${variable} is declared by two concerns with different schemas`);
      }
      shape[variable] = schema;
    }
  }
  return shape;
}
