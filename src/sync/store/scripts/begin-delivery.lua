-- What a worker reads before a push, in one step: the record's Bundle and state at the upstream,
-- and whether it is its person's next record there and no earlier version of it may still be
-- writing. A job of an older version, or of a record already settled, ends here (a settled one
-- also leaves its person's queue).
--
-- KEYS: [1] the record's hash.
-- ARGV: [1] key prefix, [2] upstream, [3] the job's version, [4] now (ms).
-- Computed at run time: the person's order list, named by the subject this step reads from the
-- record (the job carries ids only).
-- Returns {'go', bundle, state, receivedAt, subject, source, recordId} (the Bundle is sealed to
-- the record's source and recordId), {'settled', state}, {'wait'},
-- {'superseded'} or {'missing'}.
local P, U, v = ARGV[1], ARGV[2], tonumber(ARGV[3])
local f = redis.call('HMGET', KEYS[1], F.version, F.receivedAt, F.bundle, UF .. U, F.subject, F.id, F.source, F.recordId)
if not f[1] or not f[2] or not f[3] or not f[4] then return {'missing'} end
local st = cjson.decode(f[4])
if tonumber(f[1]) > v or st.version > v then return {'superseded'} end
local subject = f[5] or ''
local orderKey = K.order(P, subject, U)
if st.state == 'synced' or st.state == 'failed' then
  if subject ~= '' then redis.call('LREM', orderKey, 1, f[6]) end
  return {'settled', st.state}
end
if subject ~= '' then
  local head = redis.call('LINDEX', orderKey, 0)
  if head and head ~= f[6] then return {'wait'} end
end
if st.earlierSending and tonumber(st.earlierSending.untilMs or 0) > tonumber(ARGV[4]) then return {'wait'} end
return {'go', f[3], f[4], f[2], subject, f[7] or '', f[8] or ''}
