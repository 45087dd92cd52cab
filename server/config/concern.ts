import type { z } from 'zod';

/**
 * One concern's configuration: the variables it reads, the rules between
 * them, and the typed section(s) it gives the services that compose it.
 */
export interface Concern<Shape extends z.ZodRawShape, Section extends object> {
  shape: Shape;
  /** Rules across this concern's variables; `production` is NODE_ENV=production. */
  check?(env: z.output<z.ZodObject<Shape>>, context: z.RefinementCtx, production: boolean): void;
  section(env: z.output<z.ZodObject<Shape>>, production: boolean): Section;
}

/** Infers a concern's types from its shape, so a module states each variable once. */
export function defineConcern<Shape extends z.ZodRawShape, Section extends object>(
  concern: Concern<Shape, Section>,
): Concern<Shape, Section> {
  return concern;
}

// biome-ignore lint/suspicious/noExplicitAny: any concern, whatever its shape and section
export type AnyConcern = Concern<any, object>;
type UnionToIntersection<U> = (U extends unknown ? (union: U) => void : never) extends (
  intersection: infer I,
) => void
  ? I
  : never;
/** The sections of several concerns as one object (two concerns may share a key, such as `search`). */
export type SectionsOf<Concerns extends readonly AnyConcern[]> = UnionToIntersection<
  ReturnType<Concerns[number]['section']>
>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** `PORT: ...`, and inside a list or JSON variable `JWT_ISSUERS: [1].audience: ...`. */
export function describeIssue({
  path: [variable = '(environment)', ...inner],
  message,
}: z.core.$ZodIssue): string {
  const where = inner
    .map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`))
    .join('')
    .replace(/^\./, '');
  return `${String(variable)}: ${where ? `${where}: ` : ''}${message}`;
}

/** Merges sections one level deep, so two concerns may each fill part of one section. */
export function mergeSections(sections: object[]): Record<string, unknown> {
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
