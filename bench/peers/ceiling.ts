/**
 * The ceiling: a bare `node:http` server that reads the request body and
 * answers with a fixed JSON document (the search page a gateway returns). No
 * gateway on this machine can beat it, since every gateway does this plus
 * GraphQL work and two subgraph calls.
 *
 * Env: PORT, RESPONSE_PATH (the JSON body to answer with). Prints `{ "url": ... }` when ready.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const body = readFileSync(process.env.RESPONSE_PATH ?? '', 'utf8');
const server = createServer({ keepAliveTimeout: 65_000 }, (request, response) => {
  request.on('data', () => {});
  request.on('end', () => {
    response.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    response.end(body);
  });
});
await new Promise<void>((resolve) => server.listen(Number(process.env.PORT ?? 4300), '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;
console.log(JSON.stringify({ url: `http://127.0.0.1:${port}/graphql` }));

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
