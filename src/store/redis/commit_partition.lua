-- Compare-and-set of one account partition: the new record, the journal
-- entries that explain it and the partition's documents are written together,
-- and only if the record is still at the version the caller read. No business
-- rule lives here; the caller computed the new state in Rust.
-- KEYS[1] = account record (hash: version, data)   KEYS[2] = journal (list)
-- KEYS[3] = documents (hash: name -> body)   KEYS[4] = event stream
-- ARGV[1] = expected version   ARGV[2] = new account JSON
-- ARGV[3] = number of journal entries E, ARGV[4] = documents to put P,
-- ARGV[5] = documents to delete D, ARGV[6] = events V,
-- ARGV[7] = events kept per stream, ARGV[8] = channel told of new events,
-- ARGV[9] = account id, then E entries, P (name, body) pairs, D names, V events.
-- Returns 1 when committed, 0 on a version conflict (or a missing record).
local version = redis.call('HGET', KEYS[1], 'version')
if not version or tonumber(version) ~= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'version', tonumber(version) + 1, 'data', ARGV[2])
local entries, puts, deletes = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local events = tonumber(ARGV[6])
local at = 10
for _ = 1, entries do
  redis.call('RPUSH', KEYS[2], ARGV[at])
  at = at + 1
end
for _ = 1, puts do
  redis.call('HSET', KEYS[3], ARGV[at], ARGV[at + 1])
  at = at + 2
end
for _ = 1, deletes do
  redis.call('HDEL', KEYS[3], ARGV[at])
  at = at + 1
end
for _ = 1, events do
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[7], '*', 'body', ARGV[at])
  at = at + 1
end
if events > 0 then
  redis.call('PUBLISH', ARGV[8], ARGV[9])
end
return 1
