-- Creates an account partition at version 1 with its opening journal entries.
-- KEYS[1] = account record (hash: version, data)   KEYS[2] = journal (list)
-- ARGV[1] = account JSON                           ARGV[2..] = journal entries (JSON)
-- Returns 1 when created, 0 when the partition already exists.
-- Both keys share the account's hash tag, so the script touches one cluster slot.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'version', 1, 'data', ARGV[1])
for i = 2, #ARGV do
  redis.call('RPUSH', KEYS[2], ARGV[i])
end
return 1
