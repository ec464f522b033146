-- Key rotation (payload-rotation.ts): replaces each of a record's values only if it is still the
-- one that was read, so a new version or state the gateway wrote meanwhile is left alone.
--
-- KEYS: [1] the record's hash.
-- ARGV: triples of field, the value read, the value to write.
-- Returns how many values were replaced.
local n = 0
for i = 1, #ARGV, 3 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
    n = n + 1
  end
end
return n
