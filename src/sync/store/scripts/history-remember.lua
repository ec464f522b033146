-- Writes one entry of a person's history; drops the month fields before ARGV[4] but the newest of
-- them (it still tells O from B); the key goes when the child is past the age the indicators need.
--
-- KEYS: [1] the history's key.
-- ARGV: [1] field, [2] entry (JSON), [3] expiry (seconds since the epoch), [4] the first month
-- kept ('' keeps all).
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[4] ~= '' then
  local older = {}
  for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do if f < ARGV[4] then older[#older + 1] = f end end
  table.sort(older)
  for i = 1, #older - 1 do redis.call('HDEL', KEYS[1], older[i]) end
end
redis.call('EXPIREAT', KEYS[1], ARGV[3])
return 1
