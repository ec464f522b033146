-- Gives back records a batch took and did not use, in the window they were taken from (a window
-- that has ended is not brought back).
--
-- KEYS: [1] the key's budget counter.
-- ARGV: [1] the records given back.
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('DECRBY', KEYS[1], ARGV[1]) end
return 1
