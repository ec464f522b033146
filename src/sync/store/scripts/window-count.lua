-- Counts one event in a window that the first event starts (failed authentications per client
-- address): several gateway processes count together.
--
-- KEYS: [1] the counter.
-- ARGV: [1] the window (ms).
-- Returns {events in the window, ms until it ends}.
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
