-- Retention of a record synced everywhere: drops its payload only if it is still synced at every
-- upstream (a new version may have come in since it was listed), and keeps everything a person or
-- the status API reads: states, upstream ids, counts, warnings and indicators; the upstream's
-- words in the states go with the payload (drop-words.lua).
--
-- KEYS: [1] the record's hash, [2] purge.
-- ARGV: [1] the record's id, [2] now (ISO).
local recKey, purgeKey, id, droppedAt = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local unsynced = tonumber(redis.call('HGET', recKey, F.unsynced) or '1')
redis.call('ZREM', purgeKey, id)
if unsynced > 0 then return 0 end
redis.call('HDEL', recKey, unpack(PAYLOAD))
dropWords(recKey)
redis.call('HSET', recKey, F.payloadDroppedAt, droppedAt)
return 1
