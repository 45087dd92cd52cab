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
