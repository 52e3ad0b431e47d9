-- Compare-and-set of one account partition: the new record and the journal
-- entries that explain it are written together, and only if the record is
-- still at the version the caller read. No business rule lives here; the
-- caller computed the new state in Rust.
-- KEYS[1] = account record (hash: version, data)   KEYS[2] = journal (list)
-- ARGV[1] = expected version   ARGV[2] = new account JSON   ARGV[3..] = new entries (JSON)
-- Returns 1 when committed, 0 on a version conflict (or a missing record).
local version = redis.call('HGET', KEYS[1], 'version')
if not version or tonumber(version) ~= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'version', tonumber(version) + 1, 'data', ARGV[2])
for i = 3, #ARGV do
  redis.call('RPUSH', KEYS[2], ARGV[i])
end
return 1
