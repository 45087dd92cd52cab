import type { IncomingMessage, ServerResponse } from 'node:http';

export interface CorsOptions {
  /**
   * Origins whose browser pages may call the API: exact origins
   * (`https://app.example.com`), or any port of a host (`http://localhost:*`).
   * Default none: browsers then allow only same-origin pages.
   */
  allowedOrigins?: readonly string[];
}

/** What a browser may send: the token, JSON bodies, Apollo's CSRF header, and the key that makes a retry safe. */
const allowedRequestHeaders =
  'authorization, content-type, apollo-require-preflight, x-apollo-operation-name, idempotency-key';
/** What a page may read: when to retry after a 429 or 503, and the id to quote in a support request. */
const exposedResponseHeaders = 'retry-after, x-request-id';
/** Browsers cache a preflight this long (seconds), so a page does not pay one before every request. */
const preflightMaxAgeSeconds = '600';

function originMatcher(allowedOrigins: readonly string[]): (origin: string) => boolean {
  const exact = new Set<string>();
  const anyPort = new Set<string>();
  for (const allowed of allowedOrigins) {
    if (allowed.endsWith(':*')) anyPort.add(allowed.slice(0, -2).toLowerCase());
    else exact.add(allowed.toLowerCase());
  }
  return (origin) => {
    const normalized = origin.toLowerCase();
    if (exact.has(normalized)) return true;
    // Strip the port (not the colon of an IPv6 literal, which ends in `]`).
    const withoutPort = normalized.replace(/:\d+$/, '');
    return anyPort.has(withoutPort);
  };
}

/**
 * Cross-origin access to /graphql for an allowlist of origins. It returns
 * true when it answered the request itself (a preflight); otherwise it has
 * set the headers a browser needs to hand the response to the page. Requests
 * from other origins get no CORS headers, so the browser keeps the response
 * from the page. No credentials: clients send bearer tokens, not cookies.
 */
export function useCors({ allowedOrigins = [] }: CorsOptions = {}) {
  const isAllowed = originMatcher(allowedOrigins);
  return (request: IncomingMessage, response: ServerResponse): boolean => {
    const origin = request.headers.origin;
    // The answer depends on the Origin header: shared caches must keep one per origin.
    response.setHeader('vary', 'origin');
    const allowed = origin !== undefined && isAllowed(origin);
    if (allowed) {
      response.setHeader('access-control-allow-origin', origin);
      response.setHeader('access-control-expose-headers', exposedResponseHeaders);
    }
    if (request.method !== 'OPTIONS') return false;
    response.setHeader('allow', 'GET, POST, OPTIONS');
    if (allowed) {
      response.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
      response.setHeader('access-control-allow-headers', allowedRequestHeaders);
      response.setHeader('access-control-max-age', preflightMaxAgeSeconds);
    }
    response.writeHead(204);
    response.end();
    return true;
  };
}
