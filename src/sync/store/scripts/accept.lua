-- Accepting is one atomic step, so two copies of a record posted at once cannot both become new,
-- and a record is never stored without its delivery being due: the same step puts it in the
-- inbox, which the dispatcher turns into queue jobs. A changed record becomes the next version and
-- every upstream goes back to queued for it. A copy for another posyandu is not a new version: the
-- script answers place-changed with the record's own posyandu and writes nothing.
--
-- KEYS: [1] index of (source, recordId), [2] received, [3] inbox, [4] purge, [5] byPosyandu of
-- the record's posyandu.
-- ARGV: [1] key prefix, [2] id for a new record, [3] content hash, [4] now (ISO), [5] now (ms),
-- [6] n upstreams, [7 .. 6+n] the upstreams, then field/value pairs, and last the reporting day.
-- Computed at run time: the record's hash (an existing record's id is read from the index in
-- this step; reading it before would let two copies race) and, per upstream, the person's order
-- list and the counts (transition.lua). All come from the prefix, as the declared keys do.
local idxKey, receivedKey, inboxKey, purgeKey, byPosyanduKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local P, newId, hash, now, score = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local nUp = tonumber(ARGV[6])
local firstField = 7 + nUp
local day = ARGV[#ARGV]
local existing = redis.call('GET', idxKey)
local id, outcome, version
if existing then
  id = existing
  local recKey = K.record(P, id)
  -- a record belongs to its place: another posyandu's copy is refused, and nothing changes
  local stored = redis.call('HGET', recKey, F.posyandu)
  for i = firstField, #ARGV - 1, 2 do
    if ARGV[i] == F.posyandu and stored and ARGV[i + 1] ~= stored then
      return {id, 'place-changed', tonumber(redis.call('HGET', recKey, F.version)), stored}
    end
  end
  if redis.call('HGET', recKey, F.contentHash) == hash then
    return {id, 'duplicate', tonumber(redis.call('HGET', recKey, F.version))}
  end
  version = redis.call('HINCRBY', recKey, F.version, 1)
  outcome = 'new-version'
else
  id = newId
  redis.call('SET', idxKey, id)
  redis.call('ZADD', receivedKey, score, id)
  version = 1
  outcome = 'created'
  redis.call('HSET', K.record(P, id), F.id, id, F.version, 1, F.receivedAt, now)
end
local recKey = K.record(P, id)
local fields = {F.contentHash, hash, F.updatedAt, now, F.acceptedMs, score, F.unsynced, nUp}
for i = firstField, #ARGV - 1, 2 do
  fields[#fields + 1] = ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
end
redis.call('HSET', recKey, unpack(fields))
local subject = redis.call('HGET', recKey, F.subject)
local placeFields = redis.call('HMGET', recKey, F.regency, F.puskesmas, F.posyandu)
local place = (placeFields[1] or '') .. SEP .. (placeFields[2] or '') .. SEP .. (placeFields[3] or '')
if outcome == 'created' then redis.call('ZADD', byPosyanduKey, score, id) end
redis.call('ZREM', purgeKey, id)
for i = 7, 6 + nUp do
  local U = ARGV[i]
  local previous = redis.call('HGET', recKey, UF .. U)
  local from = nil
  local st = {state = 'queued', version = version, attempts = 0, updatedAt = now}
  if previous then
    local p = cjson.decode(previous)
    from = p.state
    carryOver(p, st)
  end
  redis.call('HSET', recKey, UF .. U, cjson.encode(st))
  transition(P, recKey, U, from, 'queued', tonumber(score), day, now)
  redis.call('HINCRBY', K.day(P, U, day), place .. SEP .. 'accepted', 1)
  if subject and subject ~= '' then
    local orderKey = K.order(P, subject, U)
    if not redis.call('LPOS', orderKey, id) then redis.call('RPUSH', orderKey, id) end
  end
end
redis.call('RPUSH', inboxKey, id .. ' ' .. version)
return {id, outcome, version}
