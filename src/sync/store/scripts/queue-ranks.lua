-- Fairness by puskesmas: a job's priority is its record's place in its own puskesmas' queue at
-- the upstream (the inQueue index transition.lua keeps), so the 10th record of every puskesmas
-- goes before the 11th of any.
--
-- KEYS: the records' hashes, one per id.
-- ARGV: [1] key prefix, [2] upstream, [3 ..] the records' ids, in the order of KEYS.
-- Computed at run time: each record's inQueue index, named by the puskesmas this step reads from
-- the record (the inbox holds ids only).
-- Returns each record's rank, from 1 (0 for a record in no queue, as 1).
local P, U = ARGV[1], ARGV[2]
local out = {}
for i = 1, #KEYS do
  local id = ARGV[i + 2]
  local puskesmas = redis.call('HGET', KEYS[i], F.puskesmas) or ''
  local rank = redis.call('ZRANK', K.inQueue(P, U, puskesmas), id)
  out[#out + 1] = (rank or 0) + 1
end
return out
