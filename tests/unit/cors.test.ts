import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { useCors } from '../../server/http/cors.ts';

function answer(allowedOrigins: string[], origin: string | undefined, method = 'POST') {
  const headers: Record<string, string> = {};
  let status: number | undefined;
  const response = {
    setHeader: (name: string, value: string) => {
      headers[name] = value;
    },
    writeHead: (code: number) => {
      status = code;
    },
    end: () => {},
  } as unknown as ServerResponse;
  const request = { method, headers: origin ? { origin } : {} } as IncomingMessage;
  const answered = useCors({ allowedOrigins })(request, response);
  return { answered, status, headers };
}

describe('useCors', () => {
  it.each([
    ['http://localhost:5173', true],
    ['http://LOCALHOST:3000', true],
    ['http://[::1]:8080', true],
    ['http://localhost', true],
    ['https://localhost:5173', false],
    ['http://localhost.evil.example:5173', false],
    ['https://app.example.com', true],
    ['https://app.example.com:8443', false],
  ])('with any port of loopback hosts and one exact origin, %s allowed: %s', (origin, allowed) => {
    const { headers } = answer(['http://localhost:*', 'http://[::1]:*', 'https://app.example.com'], origin);
    expect(headers['access-control-allow-origin']).toBe(allowed ? origin : undefined);
  });

  it('leaves requests without an Origin header (servers, curl) to the API, without CORS headers', () => {
    const { answered, headers } = answer(['http://localhost:*'], undefined);
    expect(answered).toBe(false);
    expect(headers['access-control-allow-origin']).toBeUndefined();
    expect(headers.vary).toBe('origin');
  });

  it('answers every preflight itself with 204', () => {
    expect(answer([], 'https://other.example', 'OPTIONS')).toMatchObject({ answered: true, status: 204 });
  });
});
