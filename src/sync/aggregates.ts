// Counts kept as records move, so that the status API answers from a few small hashes whatever the
// number of records (a district has hundreds of posyandu, a year has millions of records). Every
// state change of a record at an upstream goes through `transition` below, inside the same Lua
// script that writes the state, so the counts never drift from the states. Keys, per upstream U:
//   g:agg:st:{U}            hash  "{regency}|{puskesmas}|{posyandu}|{state}" → records in that state now
//   g:agg:day:{U}:{day}     hash  "{regency}|{puskesmas}|{posyandu}|{event}" → accepted/synced/failed that day
//   g:agg:last:{U}          hash  "{regency}|{puskesmas}|{posyandu}" → last time a record synced
//   g:agg:lat:{U}           hash  "{regency}|{puskesmas}|{posyandu}|{bucket}" → accepted→synced latencies
//   g:pending:{U}:{posyandu} zset record id by time accepted, while not synced: the oldest is the backlog's age
//   g:backlog:{U}           zset  the same for all posyandu (metrics: backlog and its age per upstream)
//   g:problems:{U}          zset  record id by time accepted, while failed or waiting for identity
//   g:inqueue:{U}:{puskesmas} zset record id by time accepted, while queued, sending or retrying:
//                                 a record's rank in it is its job's priority (fairness, queues.ts)
// and for every record:
//   g:byposyandu:{posyandu} zset  record id by time received (GET /v1/records for an app)
//   g:purge                 zset  record id by the time it became synced at every upstream (retention)

/** Upper bounds (seconds) of the latency buckets; p50/p95 are reported as "at most" these. */
export const LATENCY_BUCKETS = [5, 15, 30, 60, 300, 900, 1_800, 3_600, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800, Infinity];

// Day buckets live a little over a year: the trend shows weeks, a year is there for reports.
const DAY_TTL_SECONDS = 400 * 86_400;

export const aggKeys = {
  states: (u: string) => `g:agg:st:${u}`,
  day: (u: string, day: string) => `g:agg:day:${u}:${day}`,
  last: (u: string) => `g:agg:last:${u}`,
  latency: (u: string) => `g:agg:lat:${u}`,
  pending: (u: string, posyandu: string) => `g:pending:${u}:${posyandu}`,
  backlog: (u: string) => `g:backlog:${u}`,
  problems: (u: string) => `g:problems:${u}`,
  byPosyandu: (posyandu: string) => `g:byposyandu:${posyandu}`,
  purge: 'g:purge',
};

const luaBuckets = LATENCY_BUCKETS.filter(Number.isFinite).join(', ');

/**
 * Lua: moves one record at upstream U from state `from` (nil for a new record) to `to`.
 * recKey is the record's hash; it holds regency, puskesmas, posyandu, acceptedMs and unsynced.
 */
export const transitionLua = `
local latencyBuckets = {${luaBuckets}}
local function transition(recKey, U, from, to, nowMs, day, nowIso)
  if from == to then return end
  local f = redis.call('HMGET', recKey, 'regency', 'puskesmas', 'posyandu', 'acceptedMs', 'id')
  local place = (f[1] or '') .. '|' .. (f[2] or '') .. '|' .. (f[3] or '')
  local id, acceptedMs = f[5], tonumber(f[4]) or nowMs
  local st = 'g:agg:st:' .. U
  if from then redis.call('HINCRBY', st, place .. '|' .. from, -1) end
  redis.call('HINCRBY', st, place .. '|' .. to, 1)
  local dayKey = 'g:agg:day:' .. U .. ':' .. day
  local pending = 'g:pending:' .. U .. ':' .. (f[3] or '')
  if to == 'synced' then
    redis.call('HINCRBY', dayKey, place .. '|synced', 1)
    redis.call('HSET', 'g:agg:last:' .. U, place, nowIso)
    local seconds = (nowMs - acceptedMs) / 1000
    local bucket = #latencyBuckets + 1
    for i, bound in ipairs(latencyBuckets) do
      if seconds <= bound then bucket = i break end
    end
    redis.call('HINCRBY', 'g:agg:lat:' .. U, place .. '|' .. bucket, 1)
    redis.call('ZREM', pending, id)
    redis.call('ZREM', 'g:backlog:' .. U, id)
    if redis.call('HINCRBY', recKey, 'unsynced', -1) <= 0 then redis.call('ZADD', 'g:purge', nowMs, id) end
  else
    -- Only a new version leaves synced; the accept script resets 'unsynced' and the purge entry.
    redis.call('ZADD', pending, acceptedMs, id)
    redis.call('ZADD', 'g:backlog:' .. U, acceptedMs, id)
  end
  if to == 'failed' then redis.call('HINCRBY', dayKey, place .. '|failed', 1) end
  redis.call('EXPIRE', dayKey, ${DAY_TTL_SECONDS})
  if to == 'failed' or to == 'waiting-identity' then
    redis.call('ZADD', 'g:problems:' .. U, acceptedMs, id)
  else
    redis.call('ZREM', 'g:problems:' .. U, id)
  end
  local inQueue = 'g:inqueue:' .. U .. ':' .. (f[2] or '')
  if to == 'queued' or to == 'sending' or to == 'retrying' then
    redis.call('ZADD', inQueue, acceptedMs, id)
  else
    redis.call('ZREM', inQueue, id)
  end
end
`;

// The status API counts days as posyandu do: most are in WIB. A WITA or WIT posyandu's record
// synced just after midnight local time counts on the previous day; the trend is a trend.
const REPORTING_OFFSET_MS = 7 * 3_600_000;

/** The reporting day (YYYY-MM-DD, WIB) of a moment. */
export function reportingDay(ms: number): string {
  return new Date(ms + REPORTING_OFFSET_MS).toISOString().slice(0, 10);
}
