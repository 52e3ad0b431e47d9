-- Creates an account partition at version 1 with its opening journal
-- entries, and lists it in its shard's accounts.
-- KEYS[1] = account record (hash: version, data, and layout v5's base of
-- event positions `eb`, the time in µs)   KEYS[2] = journal (list)
-- KEYS[3] = the shard's account ids (set)
-- ARGV[1] = account id   ARGV[2] = account   ARGV[3..] = journal entries
-- (texts as the store writes them, packed or not: the script never reads them)
-- Returns 1 when created, 0 when the partition already exists.
-- Every key shares the shard's hash tag, so the script touches one cluster slot.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('DEL', KEYS[2])
local time = redis.call('TIME')
redis.call('HSET', KEYS[1], 'version', 1, 'data', ARGV[2], 'eb', time[1] .. string.format('%06d', tonumber(time[2])))
for i = 3, #ARGV do
  redis.call('RPUSH', KEYS[2], ARGV[i])
end
redis.call('SADD', KEYS[3], ARGV[1])
return 1
