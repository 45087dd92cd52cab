import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { RouteHandler } from '../../server/http/http-server.ts';

export interface ExplorerOptions {
  /**
   * Put in the headers editor as `Authorization: Bearer <token>`, so a
   * developer can run a query at once. Only for development on loopback:
   * the page would hand the token to anyone who can open it. Default none.
   */
  demoToken?: string;
}

/** Where the page loads its files from; all of them are served by the gateway itself. */
const assetsPath = '/graphql/explorer/';

const resolvePackage = createRequire(import.meta.url);
const packageDirectory = (name: string) => dirname(resolvePackage.resolve(`${name}/package.json`));

/**
 * GraphiQL 4's prebuilt browser bundle and React 18's UMD builds: script
 * files that need no bundler, so the page works without any CDN. (GraphiQL 5
 * ships only ES modules that need one, and React 19 has no UMD build.)
 */
const assetFiles: Record<string, { path: () => string; type: string }> = {
  'react.js': {
    path: () => join(packageDirectory('react'), 'umd/react.production.min.js'),
    type: 'text/javascript',
  },
  'react-dom.js': {
    path: () => join(packageDirectory('react-dom'), 'umd/react-dom.production.min.js'),
    type: 'text/javascript',
  },
  'graphiql.js': {
    path: () => join(packageDirectory('graphiql'), 'graphiql.min.js'),
    type: 'text/javascript',
  },
  'graphiql.css': {
    path: () => join(packageDirectory('graphiql'), 'graphiql.min.css'),
    type: 'text/css',
  },
  'start.js': {
    path: () => join(dirname(fileURLToPath(import.meta.url)), 'start-explorer.js'),
    type: 'text/javascript',
  },
};

const exampleQuery = `# Full-text search over your tenant's documents. Press the run button (or Ctrl-Enter).
query Search {
  search(query: "search", first: 5) {
    total
    hits {
      score
      document {
        id
        title
        tags
      }
    }
  }
}
`;

function pageHtml({ demoToken }: ExplorerOptions): string {
  const authorization = demoToken ? `Bearer ${demoToken}` : undefined;
  const settings = {
    query: exampleQuery,
    headers: JSON.stringify({ Authorization: authorization ?? 'Bearer <token>' }, null, 2),
    // Also on every request the fetcher makes, the schema's introspection included.
    authorization,
  };
  // `<` escaped so that no value can close the script element it sits in.
  const settingsJson = JSON.stringify(settings).replaceAll('<', '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Quarry explorer</title>
<link rel="stylesheet" href="${assetsPath}graphiql.css">
<style>html, body, #explorer { height: 100%; margin: 0; }</style>
</head>
<body>
<div id="explorer">Loading the explorer…</div>
<script id="explorer-settings" type="application/json">${settingsJson}</script>
<script src="${assetsPath}react.js"></script>
<script src="${assetsPath}react-dom.js"></script>
<script src="${assetsPath}graphiql.js"></script>
<script src="${assetsPath}start.js"></script>
</body>
</html>
`;
}

/**
 * GraphiQL at GET /graphql for browsers (the request asks for HTML), from
 * Quarry's own dependencies, and the routes that serve its files. Only for
 * development: the gateway leaves it out in production.
 */
export function useExplorer<TContext extends BaseContext>(
  options: ExplorerOptions = {},
): {
  plugin: ApolloServerPlugin<TContext>;
  routes: Record<string, RouteHandler>;
} {
  const html = pageHtml(options);
  const routes: Record<string, RouteHandler> = {};
  for (const [name, asset] of Object.entries(assetFiles)) {
    let content: Promise<Buffer> | undefined;
    routes[`${assetsPath}${name}`] = async (_request, response) => {
      content ??= readFile(asset.path());
      const body = await content;
      response.writeHead(200, {
        'content-type': `${asset.type}; charset=utf-8`,
        'cache-control': 'no-cache',
        'content-length': body.length,
      });
      response.end(body);
    };
  }
  return {
    plugin: {
      async serverWillStart() {
        return {
          async renderLandingPage() {
            return { html };
          },
        };
      },
    },
    routes,
  };
}
