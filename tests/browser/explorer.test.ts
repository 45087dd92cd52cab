import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoDocuments } from '../../cli/demo-data.ts';
import { chromiumMissing, useClosedNetworkBrowser } from '../helpers/chromium.ts';
import { startTestIdentityProvider, type TestIdentityProvider } from '../helpers/identity-provider.ts';
import { startTestStack, type TestStack } from '../helpers/test-stack.ts';

// A browser on a busy two-core machine renders slowly; generous on purpose.
const browserBoundMs = 60_000;

describe.skipIf(chromiumMissing)(
  `explorer in headless Chromium${chromiumMissing ? ` (${chromiumMissing})` : ''}`,
  () => {
    const browser = useClosedNetworkBrowser();
    let stack: TestStack;

    beforeAll(async () => {
      stack = await startTestStack({ explorerTenant: 'acme' });
      await seedDemoDocuments(stack.store);
      await stack.settle();
    });

    afterAll(async () => {
      await stack?.stop();
    });

    it(
      'runs a search with the pre-filled token and shows the schema docs, with every file served by the gateway',
      async () => {
        const page = await browser.context.newPage();
        page.setDefaultTimeout(browserBoundMs);
        await page.goto(stack.gatewayUrl);
        await page.locator('.graphiql-execute-button').click();
        // An acme document: the search ran as acme, with the token from the headers editor.
        await page.locator('.result-window').getByText('Search relevance tuning notes').waitFor();

        await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
        // The docs list the schema's types, read by introspection with the same token.
        await page.locator('.graphiql-doc-explorer').getByText('SearchResults', { exact: true }).waitFor();

        expect(browser.blockedRequests).toEqual([]);
        await page.close();
      },
      browserBoundMs * 2,
    );
  },
);

describe('explorer in production', () => {
  let idp: TestIdentityProvider;
  let stack: TestStack;

  beforeAll(async () => {
    idp = await startTestIdentityProvider();
    stack = await startTestStack({
      explorerTenant: 'acme',
      env: {
        NODE_ENV: 'production',
        JWT_JWKS_URL: idp.url,
        JWT_JWKS_FILE: undefined,
        CURSOR_SECRET: 'a-production-cursor-secret-of-32-chars!',
      },
    });
  });

  afterAll(async () => {
    await stack?.stop();
    await idp?.close();
  });

  it('is not served, even when asked to carry a token: no page at /graphql and no explorer files', async () => {
    const page = await fetch(stack.gatewayUrl, { headers: { accept: 'text/html' } });
    expect(page.headers.get('content-type') ?? '').not.toContain('text/html');
    expect(await page.text()).not.toContain('Bearer');
    const script = await fetch(new URL('/graphql/explorer/graphiql.js', stack.gatewayUrl));
    expect(script.status).toBe(404);
  });
});
