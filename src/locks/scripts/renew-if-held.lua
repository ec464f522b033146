-- Gives a lock a new life only while it still holds our token, so a holder that stalled past the
-- lock's life cannot take it back from the one that took over.
--
-- KEYS: [1] the lock.
-- ARGV: [1] our token, [2] the new life (ms).
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
