import { describe, expect, it } from 'vitest';
import { startTestRedis } from '../helpers/redis-server.ts';

describe('startTestRedis', () => {
  it('fails naming the missing binary and how to install it, not with a PING timeout', async () => {
    await expect(startTestRedis({ command: 'redis-server-that-is-not-installed' })).rejects.toThrow(
      'redis-server-that-is-not-installed is not installed: install it with: apt-get install -y redis-server',
    );
  });
});
