-- Compare-and-set of one document in a collection hash.
-- KEYS[1] = collection hash: field <id> -> body, field <id>#v -> version
-- ARGV[1] = id   ARGV[2] = expected version (0 = must not exist)   ARGV[3] = new body
-- Returns 1 when saved, 0 on a version conflict.
local version = tonumber(redis.call('HGET', KEYS[1], ARGV[1] .. '#v') or '0')
if version ~= tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3], ARGV[1] .. '#v', version + 1)
return 1
