import { z } from 'zod';
import { type AnyConcern, ConfigError, describeIssue, mergeSections, type SectionsOf } from './concern.ts';
import { processConcern } from './process.ts';

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
  return (
    env: Record<string, string | undefined> = process.env,
  ): SectionsOf<[typeof processConcern, ...Concerns]> => {
    // An empty variable counts as unset (compose's `${VAR:-}`); coerced, it would read as 0, such as PORT 0.
    const parsed = schema.safeParse(
      Object.fromEntries(Object.entries(env).filter(([, value]) => value !== '')),
    );
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) => `  ${describeIssue(issue)}`);
      throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);
    }
    const production = parsed.data.NODE_ENV === 'production';
    return mergeSections(concerns.map((concern) => concern.section(parsed.data, production))) as SectionsOf<
      [typeof processConcern, ...Concerns]
    >;
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
