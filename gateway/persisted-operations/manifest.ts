import { hash } from 'node:crypto';
import {
  type DocumentNode,
  type GraphQLSchema,
  getOperationAST,
  parse,
  print,
  specifiedRules,
  type ValidationRule,
  validate,
} from 'graphql';

/** Apollo's persisted query manifest format, as written by `npm run pq:build`. */
export interface PersistedQueryManifest {
  format: 'apollo-persisted-query-manifest';
  version: 1;
  operations: { id: string; name: string; type: 'query' | 'mutation' | 'subscription'; body: string }[];
}

/** One safelisted operation, parsed and validated once when the manifest loads. */
export interface PersistedOperation {
  id: string;
  name: string;
  body: string;
  document: DocumentNode;
}

export function sha256(text: string): string {
  return hash('sha256', text, 'hex');
}

/** A manifest, or an operation file, that cannot be served; the message names the file or operation. */
export class InvalidManifestError extends Error {
  override name = 'InvalidManifestError';
  readonly isInvalidManifest = true;
}

/**
 * Turns operation files into a manifest. The body is graphql-js's printed form
 * (comments and formatting dropped), so the id (sha256 of the body) does not
 * change when someone reformats a file. With `validation`, every operation is
 * validated as the gateway will validate it, and the first that fails throws
 * naming its file and operation.
 */
export function buildManifest(
  sources: { file: string; text: string }[],
  validation?: { schema: GraphQLSchema; rules?: readonly ValidationRule[] },
): PersistedQueryManifest {
  const operations = sources.map(({ file, text }) => {
    let document: DocumentNode;
    try {
      document = parse(text);
    } catch (error) {
      throw new InvalidManifestError(`${file}: ${(error as Error).message}`);
    }
    const operation = getOperationAST(document);
    if (!operation?.name) throw new InvalidManifestError(`${file}: expected exactly one named operation`);
    const name = operation.name.value;
    const problems = validation ? validateOperation(validation.schema, document, validation.rules) : [];
    if (problems.length > 0)
      throw new InvalidManifestError(`${file}: operation ${name}: ${problems.join('; ')}`);
    const body = print(document);
    return { id: sha256(body), name, type: operation.operation, body };
  });
  operations.sort((a, b) => a.name.localeCompare(b.name));
  const names = new Set<string>();
  for (const { name } of operations) {
    if (names.has(name)) throw new InvalidManifestError(`operation name ${name} is used twice`);
    names.add(name);
  }
  return { format: 'apollo-persisted-query-manifest', version: 1, operations };
}

/** Validates one body against the schema; returns the problems (none when it is servable). */
export function validateOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  extraRules: readonly ValidationRule[] = [],
): string[] {
  return validate(schema, document, [...specifiedRules, ...extraRules]).map((error) => error.message);
}

/**
 * Parses a manifest file's text into operations by id, or throws naming the
 * first problem: wrong format, an id that is not the sha256 of its body, or a
 * body that does not validate against the schema. All or nothing, so a bad
 * file never half-replaces a good one.
 */
export function loadManifest(
  text: string,
  schema: GraphQLSchema,
  extraRules: readonly ValidationRule[] = [],
): Map<string, PersistedOperation> {
  const manifest = JSON.parse(text) as Partial<PersistedQueryManifest>;
  if (manifest.format !== 'apollo-persisted-query-manifest' || manifest.version !== 1) {
    throw new InvalidManifestError('not an apollo-persisted-query-manifest version 1');
  }
  if (!Array.isArray(manifest.operations)) throw new InvalidManifestError('operations must be an array');
  const operations = new Map<string, PersistedOperation>();
  for (const entry of manifest.operations) {
    const { id, name, body } = entry ?? {};
    if (typeof id !== 'string' || typeof body !== 'string' || typeof name !== 'string') {
      throw new InvalidManifestError('every operation needs a string id, name and body');
    }
    if (sha256(body) !== id)
      throw new InvalidManifestError(`operation ${name}: id is not the sha256 of its body`);
    const document = parse(body);
    const problems = validateOperation(schema, document, extraRules);
    if (problems.length > 0) throw new InvalidManifestError(`operation ${name}: ${problems.join('; ')}`);
    operations.set(id, { id, name, body, document });
  }
  return operations;
}
