import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../server/config.ts';
import { expectedFailureMessage, redactedAddress, StartupError } from '../../server/startup-error.ts';

describe('redactedAddress', () => {
  it.each([
    [
      'mongodb://quarry:secret@db-1:27017,db-2:27017/quarry?replicaSet=rs0',
      'mongodb://db-1:27017,db-2:27017',
    ],
    ['mongodb+srv://quarry:secret@cluster.example.net/quarry', 'mongodb+srv://cluster.example.net'],
    ['https://elastic:secret@search.example:9200/', 'https://search.example:9200'],
    ['redis://:secret@cache:6379/0', 'redis://cache:6379'],
  ])('keeps %s without its credentials, path or options', (url, expected) => {
    expect(redactedAddress(url)).toBe(expected);
  });
});

describe('expectedFailureMessage', () => {
  it('is the message of configuration and startup errors, and names a missing file', () => {
    expect(expectedFailureMessage(new ConfigError('Invalid configuration'))).toBe('Invalid configuration');
    expect(expectedFailureMessage(new StartupError('Port 4000 is in use'))).toBe('Port 4000 is in use');
    const missing = Object.assign(new Error('ENOENT'), { code: 'ENOENT', path: 'docs.jsonl' });
    expect(expectedFailureMessage(missing)).toBe('File not found: docs.jsonl');
  });

  it('is undefined for anything else, which is printed in full', () => {
    expect(expectedFailureMessage(new TypeError('x is not a function'))).toBeUndefined();
  });
});
