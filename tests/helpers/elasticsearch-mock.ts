import { createRequire } from 'node:module';
import { Client, type errors } from '@elastic/elasticsearch';
import MockModule from '@elastic/elasticsearch-mock';

// The package is CommonJS with `module.exports = ClientMock`; its typings describe an ES default export.
const Mock = MockModule as unknown as typeof MockModule.default;
/**
 * The mock loads the client's CommonJS build and recognises error responses
 * with `instanceof` against it, while this ESM module gets the ESM build: an
 * error built from the ESM class would be sent back as a 200. So errors come
 * from the CommonJS build here.
 */
const commonJsErrors = createRequire(import.meta.url)('@elastic/elasticsearch').errors as typeof errors;

export interface RecordedRequest {
  method: string;
  path: string;
  querystring: Record<string, string>;
  // biome-ignore lint/suspicious/noExplicitAny: request bodies are whatever the adapter sent; tests assert on them.
  body: any;
}

/**
 * A real `@elastic/elasticsearch` client whose connection is
 * `@elastic/elasticsearch-mock`: the adapter's requests are serialised by the
 * real client and recorded here, and each route answers with what a test
 * gives it. It checks request shapes and response handling, not Elasticsearch.
 */
export function mockedElasticsearch() {
  const mock = new Mock();
  const requests: RecordedRequest[] = [];
  const client = new Client({
    node: 'http://localhost:9200',
    Connection: mock.getConnection() as unknown as ConstructorParameters<typeof Client>[0]['Connection'],
    maxRetries: 0,
  });
  return {
    client,
    requests,
    on(method: string, path: string, respond: (request: RecordedRequest) => object | string) {
      mock.add({ method, path }, (params: unknown) => {
        const request = params as unknown as RecordedRequest;
        requests.push(request);
        return respond(request);
      });
    },
    /** An error response as Elasticsearch would send it. */
    error(statusCode: number, type: string) {
      return new commonJsErrors.ResponseError({
        body: { error: { type, reason: type }, status: statusCode },
        statusCode,
        headers: {},
        warnings: null,
        meta: {} as never,
      });
    },
  };
}
