import type { Redis } from 'ioredis';

// Failed authentications per client address, counted in Redis like the per-key limit so that
// several gateway processes count together: the first failure of a minute starts the window.
const countScript = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
`;

const WINDOW_MS = 60_000;
const keyOf = (address: string) => `g:authfail:${address.slice(0, 64)}`;

type CountingRedis = Redis & { gerbangAuthFailure(key: string, windowMs: number): Promise<[number, number]> };

export class AuthFailures {
  private readonly redis: CountingRedis;

  constructor(
    redis: Redis,
    private readonly perMinute: number,
  ) {
    redis.defineCommand('gerbangAuthFailure', { numberOfKeys: 1, lua: countScript });
    this.redis = redis as CountingRedis;
  }

  /**
   * Counts one failure from the address; the seconds until it may try again when it is over the
   * limit, else undefined. A Redis hiccup lets the failure through as a plain 401.
   */
  async failed(address: string): Promise<number | undefined> {
    try {
      const [count, ttlMs] = await this.redis.gerbangAuthFailure(keyOf(address), WINDOW_MS);
      return count > this.perMinute ? Math.max(1, Math.ceil(ttlMs / 1000)) : undefined;
    } catch {
      return undefined;
    }
  }
}
