-- Compare-and-set of one account partition: the new record, the journal
-- entries that explain it, the partition's documents, its events and the
-- schedule entries the change needs are written together, and only if the
-- record is still at the version the caller read. No business rule
-- lives here; the caller computed the new state in Rust.
--
-- Every call from a script costs about a microsecond on top of the command's
-- own work, every string of KEYS and ARGV an allocation and a hash, and a
-- number made text or read from text a `printf` or `strtod`: so the script
-- makes one call per structure it changes (several fields or entries per
-- call), is given every name and number as the text it writes, and an
-- expiring document is one `SET … PX` that Redis reclaims by itself
-- (docs/redis.md, "What a commit costs"). Layout v5 keeps a partition's
-- events in its record's hash, so the record and a commit's events are one
-- `HSET`.
--
-- KEYS[1] = account record (hash: version, data; `e:<slot>` the events of
-- one commit, `eb` their positions' base; reclaim_at while the partition
-- still holds expiring documents of layout v2)
-- KEYS[2] = journal (list)   KEYS[3] = documents (hash: name -> body)
-- KEYS[4 ..] = X expiring documents' own keys (strings with a time to live),
-- then S schedule keys, then U schedule keys: the partition's and its
-- shard's, so every key shares the shard's hash tag (one cluster slot);
-- then, when the caller passes it (flag below), layout v2's reclaim index
-- (sorted set: name -> time in ms), which a partition created by v2 may
-- still use.
-- ARGV[1] = expected version, ARGV[2] = the version after (both as Redis
-- writes integers, so they compare as strings), ARGV[3] = new account
-- (the texts, here and below, as the store writes them: packed or not, the
-- script never reads them), ARGV[4] = the commit's shape, 16 bytes: seven
-- counts of two bytes each (high, low) — journal entries E, documents to put
-- P, documents to delete D, event fields V (0 or 1), expiring documents X,
-- schedule entries S, schedule members removed U — then 1 when the X
-- expiring documents must not exist yet (the caller decided without reading
-- them), then 1 when layout v2's reclaim index is passed,
-- ARGV[5] = the expiring documents' time to live in ms, then E entries, P
-- (name, body) pairs, D names, V (field, events) pairs, X bodies, S
-- (member, time) pairs (a member left empty is the one before: a new
-- withdrawal is queued and listed under one name), U members, and with
-- layout v2's reclaim index the X expiring documents' names.
-- (The processes listening for new events are told by the caller once the
-- commit has landed, many commits in one message: events.rs.)
-- ({{RECLAIMED}} expired documents of layout v2 are reclaimed per commit
-- beyond X: written in when the script is loaded.)
-- Returns 1 when committed, 0 on a version conflict (or a missing record, or
-- an expiring document that had to be new and exists), 2 when the partition
-- needs layout v2's reclaim index and it was not passed; a refused commit
-- writes nothing.
local record = redis.call('HMGET', KEYS[1], 'version', 'reclaim_at', 'eb')
if record[1] ~= ARGV[1] then
  return 0
end
local e1, e0, p1, p0, d1, d0, v1, v0, x1, x0, s1, s0, u1, u0, new_only, with_v2 = string.byte(ARGV[4], 1, 16)
local entries, puts, deletes = e1 * 256 + e0, p1 * 256 + p0, d1 * 256 + d0
local events, expiring = v1 * 256 + v0, x1 * 256 + x0
local schedules, removals = s1 * 256 + s0, u1 * 256 + u0
local first_entry = 6
local first_put = first_entry + entries
local first_delete = first_put + 2 * puts
local first_event = first_delete + deletes
local first_expiring = first_event + 2 * events
local first_schedule = first_expiring + expiring
local first_removal = first_schedule + 2 * schedules
local first_name = first_removal + removals
local first_schedule_key = 4 + expiring
local documents_key, reclaim_key = KEYS[3], nil
if with_v2 == 1 then
  reclaim_key = KEYS[first_schedule_key + schedules + removals]
end

-- Expiring documents are keys of their own with a time to live: Redis
-- reclaims them, and `SET … NX` both checks that one is new and writes it.
-- A partition written by layout v2 may still hold some in its
-- `documents` hash, indexed for reclaiming in its reclaim index; its record
-- then has `reclaim_at` (when the earliest of them may go), and only then
-- are they looked at: checked when they must be new, and reclaimed when due.
local v2_reclaim_at = record[2]
local reclaim_at_after = nil
if expiring > 0 then
  if v2_reclaim_at and not reclaim_key then
    return 2
  end
  local must_be_new = new_only == 1
  -- Kept for no time at all, a document is expired as soon as written: it
  -- is not kept (and replaces any kept under its name).
  local kept = ARGV[5] ~= '0'
  if must_be_new then
    if v2_reclaim_at then
      for at = first_name, first_name + expiring - 1 do
        if redis.call('HEXISTS', documents_key, ARGV[at]) == 1 then
          return 0
        end
      end
    end
    if (expiring > 1 or not kept) and redis.call('EXISTS', unpack(KEYS, 4, first_schedule_key - 1)) > 0 then
      return 0
    end
  end
  -- Nothing is written before this point, so the first `SET … NX` may still refuse.
  if not kept then
    redis.call('DEL', unpack(KEYS, 4, first_schedule_key - 1))
  elseif expiring == 1 and must_be_new then
    if not redis.call('SET', KEYS[4], ARGV[first_expiring], 'NX', 'PX', ARGV[5]) then
      return 0
    end
  else
    for n = 0, expiring - 1 do
      redis.call('SET', KEYS[4 + n], ARGV[first_expiring + n], 'PX', ARGV[5])
    end
  end
  if v2_reclaim_at then
    local time = redis.call('TIME')
    local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
    if tonumber(v2_reclaim_at) <= now_ms then
      local limit = expiring + {{RECLAIMED}}
      local oldest = redis.call('ZRANGE', reclaim_key, 0, limit, 'WITHSCORES')
      local due = {}
      for at = 1, #oldest, 2 do
        local score = tonumber(oldest[at + 1])
        if score > now_ms or #due == limit then
          reclaim_at_after = score
          break
        end
        due[#due + 1] = oldest[at]
      end
      if #due > 0 then
        redis.call('HDEL', documents_key, unpack(due))
        redis.call('ZREM', reclaim_key, unpack(due))
      end
      if not reclaim_at_after then
        redis.call('HDEL', KEYS[1], 'reclaim_at')
      end
    end
  end
end

if entries == 1 then
  redis.call('RPUSH', KEYS[2], ARGV[first_entry])
elseif entries > 1 then
  redis.call('RPUSH', KEYS[2], unpack(ARGV, first_entry, first_put - 1))
end

-- One `HSET` for the record and its events. A partition created before
-- layout v5 (no `eb`) keeps its events from now on here too, after the ones
-- its stream holds: `eb`, microseconds now, is above any of the stream's
-- ids (milliseconds).
if events == 1 and record[3] and not reclaim_at_after then
  redis.call('HSET', KEYS[1], 'version', ARGV[2], 'data', ARGV[3], ARGV[first_event], ARGV[first_event + 1])
elseif events == 0 and not reclaim_at_after then
  redis.call('HSET', KEYS[1], 'version', ARGV[2], 'data', ARGV[3])
else
  local fields = { 'version', ARGV[2], 'data', ARGV[3] }
  if reclaim_at_after then
    fields[#fields + 1] = 'reclaim_at'
    fields[#fields + 1] = reclaim_at_after
  end
  for at = first_event, first_expiring - 1 do
    fields[#fields + 1] = ARGV[at]
  end
  if not record[3] then
    local time = redis.call('TIME')
    fields[#fields + 1] = 'eb'
    fields[#fields + 1] = time[1] .. string.format('%06d', tonumber(time[2]))
  end
  redis.call('HSET', KEYS[1], unpack(fields))
end
if puts == 1 then
  redis.call('HSET', KEYS[3], ARGV[first_put], ARGV[first_put + 1])
elseif puts > 1 then
  redis.call('HSET', KEYS[3], unpack(ARGV, first_put, first_delete - 1))
end
if deletes > 0 then
  redis.call('HDEL', KEYS[3], unpack(ARGV, first_delete, first_event - 1))
end

local member
for n = 0, schedules - 1 do
  local at = first_schedule + 2 * n
  if ARGV[at] ~= '' then
    member = ARGV[at]
  end
  redis.call('ZADD', KEYS[first_schedule_key + n], ARGV[at + 1], member)
end
for n = 0, removals - 1 do
  redis.call('ZREM', KEYS[first_schedule_key + schedules + n], ARGV[first_removal + n])
end
return 1
