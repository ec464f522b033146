-- A person's history. A 0.3.x key (a plain SHA-256 of the identity) is renamed to its keyed name
-- the first time the person is seen again, so the history carries on.
--
-- KEYS: [1] the history's key, [2] its 0.3.x name.
if redis.call('EXISTS', KEYS[1]) == 0 and redis.call('EXISTS', KEYS[2]) == 1 then redis.call('RENAME', KEYS[2], KEYS[1]) end
return redis.call('HGETALL', KEYS[1])
