import { readFileSync } from 'node:fs';
import { Supergraph } from '@apollo/federation-internals';
import { getOperationAST, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { operationCost } from './operation-cost.ts';

const schema = Supergraph.build(readFileSync('schema/supergraph.graphql', 'utf8'))
  .apiSchema()
  .toGraphQLJSSchema();

function cost(text: string, variables?: Record<string, unknown>): number {
  const document = parse(text);
  const operation = getOperationAST(document);
  if (!operation) throw new Error('no operation');
  return operationCost(schema, document, operation, variables);
}

const bodies = (first: string) => `search(query: "the", first: ${first}) { hits { document { body } } }`;

describe('operationCost', () => {
  it('counts `first` the same whether literal, a variable, or a variable default', () => {
    const literal = cost(`{ ${bodies('100')} }`);
    expect(cost(`query ($n: Int) { ${bodies('$n')} }`, { n: 100 })).toBe(literal);
    expect(cost(`query ($n: Int = 100) { ${bodies('$n')} }`, {})).toBe(literal);
    expect(cost(`query ($n: Int = 100) { ${bodies('$n')} }`)).toBe(literal);
    expect(literal).toBeGreaterThan(50 * cost(`{ ${bodies('1')} }`));
  });

  it("takes the schema's default for a left-out or null `first`", () => {
    const atDefault = cost('{ search(query: "a") { hits { score } } }');
    expect(atDefault).toBe(cost('{ search(query: "a", first: 10) { hits { score } } }'));
    expect(cost('query ($n: Int) { search(query: "a", first: $n) { hits { score } } }', { n: null })).toBe(
      atDefault,
    );
  });

  it('counts `documents(ids:)` by the number of ids, literal or from a variable', () => {
    const one = cost('{ documents(ids: ["a"]) { body } }');
    const ids = Array.from({ length: 100 }, (_, n) => `d${n}`);
    expect(cost('query ($ids: [ID!]!) { documents(ids: $ids) { body } }', { ids })).toBe(100 * one);
    expect(cost(`{ documents(ids: ${JSON.stringify(ids)}) { body } }`)).toBe(100 * one);
  });

  it('counts every alias, and nesting multiplies', () => {
    const single = cost(`{ ${bodies('100')} }`);
    const aliased = Array.from({ length: 15 }, (_, n) => `s${n}: ${bodies('100')}`).join(' ');
    expect(cost(`{ ${aliased} }`)).toBe(15 * single);
    expect(cost('{ search(query: "a", first: 1) { hits { document { body } } } }')).toBeGreaterThan(
      cost('{ search(query: "a", first: 1) { hits { score } } }'),
    );
  });

  it('prices fragments as if written in place, however often they are spread', () => {
    const inline = cost(`{ a: ${bodies('100')} b: ${bodies('100')} }`);
    const spread = cost(
      'query ($n: Int) { a: search(query: "x", first: $n) { ...Page } b: search(query: "y", first: $n) { ...Page } } fragment Page on SearchResults { hits { ... on SearchHit { document { body } } } }',
      { n: 100 },
    );
    expect(spread).toBe(inline);
  });
});
