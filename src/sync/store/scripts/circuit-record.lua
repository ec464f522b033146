-- What a push found out about an upstream, into its circuit (circuit.ts says how it moves).
--
-- KEYS: [1] the upstream's circuit.
-- ARGV: [1] now, [2] outcome ('ok' | 'fail'), [3] wasProbe ('1' | '0'), [4] threshold,
-- [5] baseOpenMs, [6] maxOpenMs, [7] failureRate, [8] windowSize, [9] oksBefore (pushes that went
-- through since this process last told, unrecorded while the window held no failure).
-- Returns {state after, failures in the window}.
local key = KEYS[1]
local now, outcome, probe = tonumber(ARGV[1]), ARGV[2], ARGV[3] == '1'
local threshold, baseMs, maxMs = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local rate, size, oksBefore = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local f = redis.call('HMGET', key, CF.state, CF.window, CF.openMs)
local state, window, openMs = f[1] or 'closed', f[2] or '', tonumber(f[3]) or baseMs
if state ~= 'closed' then
  if outcome == 'ok' then
    -- Only the probe closes an open circuit: a slow push that started before the opening and
    -- happened to succeed says little about the upstream now.
    if not probe then return {state, 0} end
    redis.call('DEL', key)
    return {'closed', 0}
  end
  if state == 'half-open' and probe then
    redis.call('HSET', key, CF.state, 'open', CF.openUntil, now + openMs, CF.openMs, math.min(maxMs, openMs * 2))
    return {'open', 0}
  end
  return {state, 0}
end
window = window .. string.rep('0', math.min(oksBefore, size)) .. (outcome == 'ok' and '0' or '1')
window = string.sub(window, -size)
local _, failures = string.gsub(window, '1', '')
if failures == 0 then
  redis.call('DEL', key)
  return {'closed', 0}
end
if failures >= threshold and failures >= rate * string.len(window) then
  redis.call('HSET', key, CF.state, 'open', CF.openUntil, now + baseMs, CF.openMs, math.min(maxMs, baseMs * 2), CF.window, '')
  return {'open', failures}
end
redis.call('HSET', key, CF.window, window)
return {'closed', failures}
