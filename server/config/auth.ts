import { checkJwtEnvironment, jwtConfigFrom, jwtEnvironmentShape } from '../auth/issuer-config.ts';
import { defineConcern } from './concern.ts';

/** Token verification (JWT_*): read by the services that authenticate requests, never by the indexer. */
export const authConcern = defineConcern({
  shape: jwtEnvironmentShape,
  check: (env, context, production) => checkJwtEnvironment(env, production, context),
  section: (env) => ({ jwt: jwtConfigFrom(env) }),
});

export type AuthConfig = ReturnType<typeof authConcern.section>;
