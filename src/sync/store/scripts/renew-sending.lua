-- A push still running keeps its lease (its worker renews it as BullMQ renews the job's lock): the
-- state's sendingUntil while the state is that push's, else the newer version's earlierSending,
-- which a correction waits for (begin-delivery.lua). A lease only grows; a settled state stays.
--
-- KEYS: [1] the record's hash.
-- ARGV: [1] upstream, [2] the version pushed, [3] until (ms).
local current = redis.call('HGET', KEYS[1], UF .. ARGV[1])
if not current then return 0 end
local st = cjson.decode(current)
local version, untilMs = tonumber(ARGV[2]), tonumber(ARGV[3])
if st.version == version and st.state == 'sending' then
  if (tonumber(st.sendingUntil) or 0) >= untilMs then return 0 end
  st.sendingUntil = untilMs
elseif st.version > version and st.earlierSending and st.earlierSending.version == version then
  if (tonumber(st.earlierSending.untilMs) or 0) >= untilMs then return 0 end
  st.earlierSending.untilMs = untilMs
else
  return 0
end
redis.call('HSET', KEYS[1], UF .. ARGV[1], cjson.encode(st))
return 1
