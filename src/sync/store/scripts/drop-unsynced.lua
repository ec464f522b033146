-- Retention of a record not synced everywhere: its payload goes once every upstream has settled
-- it (synced, or failed: delivery has stopped trying); one still on its way (a replay) keeps it,
-- and is then dropped like any synced record once it gets through. The upstream's words in the
-- states go with the payload (drop-words.lua).
--
-- KEYS: [1] the record's hash.
-- ARGV: [1] now (ISO).
local recKey, droppedAt = KEYS[1], ARGV[1]
if redis.call('HEXISTS', recKey, F.record) == 0 then return 0 end
for _, k in ipairs(redis.call('HKEYS', recKey)) do
  if string.sub(k, 1, #UF) == UF then
    local state = cjson.decode(redis.call('HGET', recKey, k)).state
    if state ~= 'failed' and state ~= 'synced' then return 0 end
  end
end
redis.call('HDEL', recKey, unpack(PAYLOAD))
dropWords(recKey)
redis.call('HSET', recKey, F.payloadDroppedAt, droppedAt)
return 1
