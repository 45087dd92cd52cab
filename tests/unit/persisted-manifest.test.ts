import { readFileSync } from 'node:fs';
import { Supergraph } from '@apollo/federation-internals';
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { loadOperationLimitsConfig } from '../../cli/config.ts';
import {
  buildManifest,
  loadManifest,
  sha256,
  validateOperation,
} from '../../gateway/persisted-operations/manifest.ts';
import { persistedOperationRules } from '../../gateway/plugins/operation-limits.ts';
import { manifestPath, manifestText, readOperationSources } from '../../schema/operations.ts';
import { supergraphPath } from '../../schema/subgraphs.ts';

const apiSchema = Supergraph.build(readFileSync(supergraphPath, 'utf8')).apiSchema().toGraphQLJSSchema();
// The limits pq:build checks operations against, at their defaults.
const defaultLimits = loadOperationLimitsConfig({}).gateway.limits;

describe('persisted operations (schema/operations, schema/persisted-query-manifest.json)', () => {
  it.each(readOperationSources().map((source) => [source.file, source.text]))(
    '%s validates against the supergraph and stays within the default limits',
    (_file, text) => {
      expect(validateOperation(apiSchema, parse(text), persistedOperationRules(defaultLimits))).toEqual([]);
    },
  );

  it('the committed manifest is current (run `npm run pq:build` if this fails)', () => {
    expect(readFileSync(manifestPath, 'utf8')).toBe(manifestText(buildManifest(readOperationSources())));
  });

  it('covers the partner operations', () => {
    const names = loadManifest(readFileSync(manifestPath, 'utf8'), apiSchema);
    expect([...names.values()].map((operation) => operation.name).sort()).toEqual([
      'CreateDocument',
      'CreateDocumentWithKey',
      'DocumentById',
      'DocumentsByIds',
      'SearchPage',
      'Suggest',
    ]);
  });

  it('with validation, names the file and operation that the schema or a limit refuses', () => {
    const validation = {
      schema: apiSchema,
      rules: persistedOperationRules({ ...defaultLimits, maxDepth: 3 }),
    };
    const unknownField = [{ file: 'operations/Secrets.graphql', text: 'query Secrets { secrets }' }];
    expect(() => buildManifest(unknownField, validation)).toThrow(
      /^operations\/Secrets.graphql: operation Secrets: Cannot query field "secrets"/,
    );
    expect(() => buildManifest(readOperationSources(), validation)).toThrow(
      /^SearchPage.graphql: operation SearchPage: Query depth limit of 3 exceeded/,
    );
    const broken = [{ file: 'Broken.graphql', text: 'query Broken {' }];
    expect(() => buildManifest(broken, validation)).toThrow(/^Broken.graphql: Syntax Error/);
  });

  it('refuses a manifest whose id is not the sha256 of the body', () => {
    const body = 'query Q { suggest(prefix: "a") }';
    const manifest = (id: string) =>
      JSON.stringify({
        format: 'apollo-persisted-query-manifest',
        version: 1,
        operations: [{ id, name: 'Q', type: 'query', body }],
      });
    expect(() => loadManifest(manifest('0'.repeat(64)), apiSchema)).toThrow(/not the sha256/);
    expect(loadManifest(manifest(sha256(body)), apiSchema).size).toBe(1);
  });

  it('refuses a manifest with an operation the schema does not have', () => {
    const body = 'query Q { secrets }';
    const text = JSON.stringify({
      format: 'apollo-persisted-query-manifest',
      version: 1,
      operations: [{ id: sha256(body), name: 'Q', type: 'query', body }],
    });
    expect(() => loadManifest(text, apiSchema)).toThrow(/Cannot query field "secrets"/);
  });
});
