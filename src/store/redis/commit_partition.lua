-- Compare-and-set of one account partition: the new record, the journal
-- entries that explain it, the partition's documents, its events and the
-- schedule entries the change needs are written together, and only if the
-- record is still at the version the caller read. No business rule
-- lives here; the caller computed the new state in Rust.
--
-- Every call from a script costs about a microsecond on top of the command's
-- own work, and every byte of ARGV is hashed once by Lua, so the script
-- makes one call per structure it changes (several fields or entries per
-- call) and skips the reclaim scan when nothing can be due (docs/redis.md,
-- "What a commit costs").
--
-- KEYS[1] = account record (hash: version, data, reclaim_at)
-- KEYS[2] = journal (list)   KEYS[3] = documents (hash: name -> body)
-- KEYS[4] = event stream
-- KEYS[5] = expiring documents (sorted set: name -> reclaim time in ms)
-- KEYS[6 ..] = S schedule keys, then U schedule keys: the partition's
-- shard's, so every key shares the shard's hash tag (one cluster slot).
-- ARGV[1] = expected version   ARGV[2] = new account JSON
-- ARGV[3] = journal entries E, ARGV[4] = documents to put P,
-- ARGV[5] = documents to delete D, ARGV[6] = events V,
-- ARGV[7] = events kept per stream, ARGV[8] = channel told of new events
-- (a shard channel of this slot on a cluster),
-- ARGV[9] = account id, ARGV[10] = expiring documents X, ARGV[11] = their
-- time to live in ms, ARGV[12] = expired documents reclaimed per commit
-- beyond X, ARGV[13] = schedule entries S, ARGV[14] = how to tell of new
-- events (PUBLISH, or SPUBLISH on a cluster), ARGV[15] = schedule members
-- removed U, ARGV[16] = 1 when the X expiring documents must not exist yet
-- (the caller decided without reading them), then E entries, P (name, body)
-- pairs, D names, V events, X (name, body) pairs, S (member, time) pairs, U
-- members.
-- Returns 1 when committed, 0 on a version conflict (or a missing record, or
-- an expiring document that had to be new and exists); a refused commit
-- writes nothing.
local record = redis.call('HMGET', KEYS[1], 'version', 'reclaim_at')
local version = tonumber(record[1])
if not version or version ~= tonumber(ARGV[1]) then
  return 0
end
local entries, puts, deletes = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local events, expiring = tonumber(ARGV[6]), tonumber(ARGV[10])
local schedules, removals = tonumber(ARGV[13]), tonumber(ARGV[15])
local first_put = 17 + entries
local first_delete = first_put + 2 * puts
local first_event = first_delete + deletes
local first_expiring = first_event + events
local first_schedule = first_expiring + 2 * expiring
local first_removal = first_schedule + 2 * schedules

if ARGV[16] == '1' then
  for at = first_expiring, first_schedule - 1, 2 do
    if redis.call('HEXISTS', KEYS[3], ARGV[at]) == 1 then
      return 0
    end
  end
end

-- The record keeps when its partition's oldest expiring document may be
-- reclaimed (`reclaim_at`), so a commit looks at the reclaim index only
-- when something there is due. Tables and loops cost here too, so the
-- common case (one of each) takes the plain calls.
if expiring > 0 then
  local time = redis.call('TIME')
  local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  local next_due = tonumber(record[2])
  if not next_due or next_due <= now_ms then
    local limit = expiring + tonumber(ARGV[12])
    local oldest = redis.call('ZRANGE', KEYS[5], 0, limit, 'WITHSCORES')
    local due = {}
    next_due = nil
    for at = 1, #oldest, 2 do
      local score = tonumber(oldest[at + 1])
      if score > now_ms or #due == limit then
        next_due = score
        break
      end
      due[#due + 1] = oldest[at]
    end
    if #due > 0 then
      redis.call('HDEL', KEYS[3], unpack(due))
      redis.call('ZREM', KEYS[5], unpack(due))
    end
  end
  local reclaim_at = now_ms + tonumber(ARGV[11])
  if expiring == 1 then
    redis.call('ZADD', KEYS[5], reclaim_at, ARGV[first_expiring])
  else
    local reclaims = {}
    for at = first_expiring, first_schedule - 1, 2 do
      reclaims[#reclaims + 1] = reclaim_at
      reclaims[#reclaims + 1] = ARGV[at]
    end
    redis.call('ZADD', KEYS[5], unpack(reclaims))
  end
  redis.call('HSET', KEYS[1], 'version', version + 1, 'data', ARGV[2],
    'reclaim_at', math.min(next_due or reclaim_at, reclaim_at))
else
  redis.call('HSET', KEYS[1], 'version', version + 1, 'data', ARGV[2])
end

if entries == 1 then
  redis.call('RPUSH', KEYS[2], ARGV[17])
elseif entries > 1 then
  redis.call('RPUSH', KEYS[2], unpack(ARGV, 17, first_put - 1))
end
-- Documents are put, then deleted, then the expiring ones put (as the
-- memory store does); without deletions the two puts are one call.
if deletes > 0 then
  if puts > 0 then
    redis.call('HSET', KEYS[3], unpack(ARGV, first_put, first_delete - 1))
  end
  redis.call('HDEL', KEYS[3], unpack(ARGV, first_delete, first_event - 1))
  if expiring > 0 then
    redis.call('HSET', KEYS[3], unpack(ARGV, first_expiring, first_schedule - 1))
  end
elseif puts == 1 and expiring == 1 then
  redis.call('HSET', KEYS[3], ARGV[first_put], ARGV[first_put + 1], ARGV[first_expiring], ARGV[first_expiring + 1])
elseif puts + expiring > 0 then
  local bodies = {}
  for at = first_put, first_delete - 1 do
    bodies[#bodies + 1] = ARGV[at]
  end
  for at = first_expiring, first_schedule - 1 do
    bodies[#bodies + 1] = ARGV[at]
  end
  redis.call('HSET', KEYS[3], unpack(bodies))
end
for at = first_event, first_expiring - 1 do
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[7], '*', 'body', ARGV[at])
end
for key = 6, 5 + schedules do
  local at = first_schedule + 2 * (key - 6)
  redis.call('ZADD', KEYS[key], ARGV[at + 1], ARGV[at])
end
for n = 0, removals - 1 do
  redis.call('ZREM', KEYS[6 + schedules + n], ARGV[first_removal + n])
end
if events > 0 then
  redis.call(ARGV[14], ARGV[8], ARGV[9])
end
return 1
