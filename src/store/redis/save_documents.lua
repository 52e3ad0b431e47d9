-- Compare-and-set of several documents, all or none. Each collection is a
-- hash: field <id> -> body, field <id>#v -> version.
-- KEYS[i] = the collection of write i
-- (Every collection shares the `{docs}` hash tag: one cluster slot.)
-- ARGV[3i-2] = id   ARGV[3i-1] = expected version (0 = must not exist)
-- ARGV[3i] = new body
-- Returns 1 when saved, 0 on a version conflict.
for i = 1, #KEYS do
  local version = tonumber(redis.call('HGET', KEYS[i], ARGV[3 * i - 2] .. '#v') or '0')
  if version ~= tonumber(ARGV[3 * i - 1]) then
    return 0
  end
end
for i = 1, #KEYS do
  local id = ARGV[3 * i - 2]
  redis.call('HSET', KEYS[i], id, ARGV[3 * i], id .. '#v', tonumber(ARGV[3 * i - 1]) + 1)
end
return 1
