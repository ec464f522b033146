// The prefix of the SATUSEHAT caches' Redis keys when none is given: the default of
// redis.keyPrefix, so a gateway without that setting keeps the keys it wrote before.
export { DEFAULT_KEY_PREFIX } from '../../config/load.js';
