-- A worker writes a state only for the version it worked on or a newer one: a slow push of an old
-- version must not overwrite the state of the version that superseded it. What such a push wrote
-- is kept, though: those are the resources the newer version is to update, and its end lets the
-- newer version's push go. Given its person's order list (KEYS[2]), the record also leaves it: it
-- is settled at this upstream.
--
-- KEYS: [1] the record's hash, [2] (when settled) its person's order list at the upstream.
-- ARGV: [1] key prefix, [2] upstream, [3] the state (JSON), [4] now (ms), [5] reporting day,
-- [6] now (ISO).
-- Computed at run time: the counts (transition.lua).
local recKey = KEYS[1]
local P, U = ARGV[1], ARGV[2]
local current = redis.call('HGET', recKey, UF .. U)
if not current then return 0 end
local incoming = cjson.decode(ARGV[3])
local old = cjson.decode(current)
if old.version > incoming.version then
  local changed = false
  if old.state ~= 'synced' and incoming.state == 'synced' and type(incoming.resources) == 'table' and next(incoming.resources) ~= nil
     and (old.heldVersion or 0) < incoming.version then
    old.held = incoming.resources
    old.heldVersion = incoming.version
    changed = true
  end
  if old.earlierSending and old.earlierSending.version == incoming.version and incoming.state ~= 'sending' then
    old.earlierSending = nil
    changed = true
  end
  if changed then redis.call('HSET', recKey, UF .. U, cjson.encode(old)) end
  return 0
end
redis.call('HSET', recKey, UF .. U, ARGV[3])
transition(P, recKey, U, old.state, incoming.state, tonumber(ARGV[4]), ARGV[5], ARGV[6])
if KEYS[2] then
  redis.call('LREM', KEYS[2], 1, redis.call('HGET', recKey, F.id))
end
return 1
