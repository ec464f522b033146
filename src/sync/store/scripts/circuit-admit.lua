-- Whether a push may go now at an upstream (circuit.ts says how the circuit moves).
--
-- KEYS: [1] the upstream's circuit.
-- ARGV: [1] now (ms), [2] how long a probe may take before another worker may probe instead.
-- Returns {verdict, waitMs, failures}: verdict 0 go, 1 go as the probe, 2 wait.
local key = KEYS[1]
local now, probeLeaseMs = tonumber(ARGV[1]), tonumber(ARGV[2])
local f = redis.call('HMGET', key, CF.state, CF.openUntil, CF.probeUntil, CF.window)
local state = f[1] or 'closed'
if state == 'closed' then
  local _, failures = string.gsub(f[4] or '', '1', '')
  return {0, 0, failures}
end
if state == 'open' then
  local untilMs = tonumber(f[2]) or 0
  if now < untilMs then return {2, untilMs - now, 0} end
end
-- open and due, or half-open: one probe at a time; a probe whose worker died is taken over after its lease
local probeUntil = tonumber(f[3]) or 0
if state == 'half-open' and now < probeUntil then return {2, probeUntil - now, 0} end
redis.call('HSET', key, CF.state, 'half-open', CF.probeUntil, now + probeLeaseMs)
return {1, 0, 0}
