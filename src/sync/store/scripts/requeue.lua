-- A person's replay: back to queued at one upstream, attempts from zero, and into the inbox as a
-- job for that upstream only. The replay count makes a new job id (the old job may still be kept).
-- Nothing to send again once retention dropped the payload.
--
-- KEYS: [1] the record's hash, [2] inbox.
-- ARGV: [1] key prefix, [2] upstream, [3] now (ms), [4] reporting day, [5] now (ISO),
-- [6 ..] the states a record may be replayed from.
-- Computed at run time: the counts (transition.lua) and the person's order list, named by the
-- subject this step reads from the record.
local recKey, inbox = KEYS[1], KEYS[2]
local P, U, nowMs, day, nowIso = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local current = redis.call('HGET', recKey, UF .. U)
if not current then return 0 end
if redis.call('HEXISTS', recKey, F.bundle) == 0 then return 0 end
local st = cjson.decode(current)
local replayable = false
for i = 6, #ARGV do if ARGV[i] == st.state then replayable = true end end
if not replayable then return 0 end
local from = st.state
st.state = 'queued'
st.attempts = 0
st.identityWaits = nil
st.replays = (st.replays or 0) + 1
st.updatedAt = nowIso
st.nextAttemptAt = nil
redis.call('HSET', recKey, UF .. U, cjson.encode(st))
transition(P, recKey, U, from, 'queued', nowMs, day, nowIso)
local f = redis.call('HMGET', recKey, F.id, F.subject)
if f[2] and f[2] ~= '' then
  local orderKey = K.order(P, f[2], U)
  if not redis.call('LPOS', orderKey, f[1]) then redis.call('RPUSH', orderKey, f[1]) end
end
redis.call('RPUSH', inbox, f[1] .. ' ' .. st.version .. ' ' .. U .. ' ' .. st.replays)
return 1
