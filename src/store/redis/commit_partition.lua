-- Compare-and-set of one account partition: the new record, the journal
-- entries that explain it, the partition's documents, its events and the
-- schedule and index entries the change needs are written together, and only
-- if the record is still at the version the caller read. No business rule
-- lives here; the caller computed the new state in Rust.
-- KEYS[1] = account record (hash: version, data)   KEYS[2] = journal (list)
-- KEYS[3] = documents (hash: name -> body)   KEYS[4] = event stream
-- KEYS[5] = expiring documents (sorted set: name -> reclaim time in ms)
-- KEYS[6 ..] = S schedule keys, then I index keys, then U schedule keys
-- KEYS[1..5] share the partition's hash tag (one cluster slot); the schedule
-- and index keys are global, so on a Redis Cluster this script would cross
-- slots (docs/redis.md, "Towards Redis Cluster").
-- ARGV[1] = expected version   ARGV[2] = new account JSON
-- ARGV[3] = journal entries E, ARGV[4] = documents to put P,
-- ARGV[5] = documents to delete D, ARGV[6] = events V,
-- ARGV[7] = events kept per stream, ARGV[8] = channel told of new events,
-- ARGV[9] = account id, ARGV[10] = expiring documents X, ARGV[11] = their
-- time to live in ms, ARGV[12] = expired documents reclaimed per commit
-- beyond X, ARGV[13] = schedule entries S, ARGV[14] = index entries I,
-- ARGV[15] = schedule members removed U,
-- then E entries, P (name, body) pairs, D names, V events, X (name, body)
-- pairs, S (member, time) pairs, I values, U members.
-- Returns 1 when committed, 0 on a version conflict (or a missing record).
local version = redis.call('HGET', KEYS[1], 'version')
if not version or tonumber(version) ~= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'version', tonumber(version) + 1, 'data', ARGV[2])
local entries, puts, deletes = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local events, expiring = tonumber(ARGV[6]), tonumber(ARGV[10])
local schedules, indexes, removals = tonumber(ARGV[13]), tonumber(ARGV[14]), tonumber(ARGV[15])
local at = 16
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
if expiring > 0 then
  local time = redis.call('TIME')
  local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  local expired = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now_ms, 'LIMIT', 0, expiring + tonumber(ARGV[12]))
  for _, name in ipairs(expired) do
    redis.call('HDEL', KEYS[3], name)
    redis.call('ZREM', KEYS[5], name)
  end
  for _ = 1, expiring do
    redis.call('HSET', KEYS[3], ARGV[at], ARGV[at + 1])
    redis.call('ZADD', KEYS[5], now_ms + tonumber(ARGV[11]), ARGV[at])
    at = at + 2
  end
end
for key = 6, 5 + schedules do
  redis.call('ZADD', KEYS[key], ARGV[at + 1], ARGV[at])
  at = at + 2
end
for key = 6 + schedules, 5 + schedules + indexes do
  redis.call('SET', KEYS[key], ARGV[at])
  at = at + 1
end
for key = 6 + schedules + indexes, 5 + schedules + indexes + removals do
  redis.call('ZREM', KEYS[key], ARGV[at])
  at = at + 1
end
if events > 0 then
  redis.call('PUBLISH', ARGV[8], ARGV[9])
end
return 1
