/**
 * The prefix of the SATUSEHAT caches' Redis keys when none is given: the default of
 * redis.keyPrefix, so a gateway without that setting keeps the keys it wrote before.
 */
export const DEFAULT_KEY_PREFIX = 'g:';
