-- Deletes a key only while it still holds the given value: a lock that expired and was taken by
-- someone else is not released, and a cached value another caller has replaced is not dropped.
--
-- KEYS: [1] the key.
-- ARGV: [1] the value it must still hold.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
