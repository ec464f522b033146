-- Library, put before accept, set-state and requeue: moves one record at upstream U from state
-- `from` (nil for a new record) to `to`, and keeps the counts of aggregates.ts in the same step,
-- so they never drift from the states. recKey is the record's hash; it holds its place,
-- acceptedMs and unsynced.
--
-- The keys of the counts are computed here, not declared: they depend on the record's place,
-- which only its hash holds (a replay or a worker knows the record by id). All are built from the
-- prefix P, so a prefix with a hash tag keeps them in one cluster slot with the record.
local function transition(P, recKey, U, from, to, nowMs, day, nowIso)
  if from == to then return end
  local f = redis.call('HMGET', recKey, F.regency, F.puskesmas, F.posyandu, F.acceptedMs, F.id)
  local place = (f[1] or '') .. SEP .. (f[2] or '') .. SEP .. (f[3] or '')
  local id, acceptedMs = f[5], tonumber(f[4]) or nowMs
  local st = K.states(P, U)
  if from then redis.call('HINCRBY', st, place .. SEP .. from, -1) end
  redis.call('HINCRBY', st, place .. SEP .. to, 1)
  local dayKey = K.day(P, U, day)
  local pending = K.pending(P, U, f[3] or '')
  if to == 'synced' then
    redis.call('HINCRBY', dayKey, place .. SEP .. 'synced', 1)
    redis.call('HSET', K.lastSynced(P, U), place, nowIso)
    local seconds = (nowMs - acceptedMs) / 1000
    local bucket = #LATENCY_BUCKETS + 1
    for i, bound in ipairs(LATENCY_BUCKETS) do
      if seconds <= bound then bucket = i break end
    end
    redis.call('HINCRBY', K.latency(P, U), place .. SEP .. bucket, 1)
    redis.call('ZREM', pending, id)
    redis.call('ZREM', K.backlog(P, U), id)
    if redis.call('HINCRBY', recKey, F.unsynced, -1) <= 0 then redis.call('ZADD', K.purge(P), nowMs, id) end
  else
    -- Only a new version leaves synced; the accept script resets 'unsynced' and the purge entry.
    redis.call('ZADD', pending, acceptedMs, id)
    redis.call('ZADD', K.backlog(P, U), acceptedMs, id)
  end
  if to == 'failed' then redis.call('HINCRBY', dayKey, place .. SEP .. 'failed', 1) end
  redis.call('EXPIRE', dayKey, DAY_TTL_SECONDS)
  if to == 'failed' or to == 'waiting-identity' then
    redis.call('ZADD', K.problems(P, U), acceptedMs, id)
  else
    redis.call('ZREM', K.problems(P, U), id)
  end
  local inQueue = K.inQueue(P, U, f[2] or '')
  if to == 'queued' or to == 'sending' or to == 'retrying' then
    redis.call('ZADD', inQueue, acceptedMs, id)
  else
    redis.call('ZREM', inQueue, id)
  end
end
