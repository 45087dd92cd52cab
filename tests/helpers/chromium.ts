import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';

/** Debian's chromium; .ci/run installs it. */
export const chromiumPath = '/usr/bin/chromium';

/** Why the browser tests skip here, or undefined when they can run. */
export const chromiumMissing = existsSync(chromiumPath)
  ? undefined
  : `skipped: ${chromiumPath} is not installed (apt-get install -y chromium)`;

/** Headless, and nothing that reaches the network on the browser's own account (updates, sync, QUIC probes). */
const closedNetworkFlags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function isLoopbackUrl(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  if (protocol === 'data:' || protocol === 'blob:' || protocol === 'about:') return true;
  return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]';
}

export interface ClosedNetworkBrowser {
  context: BrowserContext;
  /** Every request the page tried to make off this machine (all aborted). */
  blockedRequests: string[];
}

/**
 * Headless Chromium with a fresh profile for the enclosing file, where every
 * request that leaves loopback is aborted and recorded: a page that works
 * here works with the network closed.
 */
export function useClosedNetworkBrowser(): ClosedNetworkBrowser {
  const browser = { blockedRequests: [] } as unknown as ClosedNetworkBrowser;
  let profile: string | undefined;
  beforeAll(async () => {
    profile = await mkdtemp(join(tmpdir(), 'quarry-chromium-'));
    browser.context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args: closedNetworkFlags,
    });
    await browser.context.route('**/*', (route) => {
      const url = route.request().url();
      if (isLoopbackUrl(url)) return route.continue();
      browser.blockedRequests.push(url);
      return route.abort('internetdisconnected');
    });
  });
  afterAll(async () => {
    await browser.context?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });
  return browser;
}
