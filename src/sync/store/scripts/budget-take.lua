-- Takes up to ARGV[2] records from a key's records-per-minute budget. The first record of a
-- window starts it; a grant is never more than what is left of the window's limit.
--
-- KEYS: [1] the key's budget counter.
-- ARGV: [1] the limit, [2] the records asked for, [3] the window (ms).
-- Returns {granted, ms until the window ends}.
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local grant = math.min(tonumber(ARGV[2]), math.max(tonumber(ARGV[1]) - used, 0))
if grant > 0 then redis.call('INCRBY', KEYS[1], grant) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]); ttl = tonumber(ARGV[3]) end
if ttl < 0 then ttl = tonumber(ARGV[3]) end
return {grant, ttl}
