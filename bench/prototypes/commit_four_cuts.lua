-- A measuring prototype, not a store: the commit script with the four
-- layout cuts docs/redis.md names ("Where 15 µs lies"), for
-- `bench/commit-prototype.py OUT_DIR bench/prototypes/commit_four_cuts.lua
-- --without-index-entries`. It does a withdrawal's work as a layout v4
-- would: a single document put lies in the record's hash (one `HSET` for
-- the record and it), so does a single event (field `e:<version>`, no
-- `XADD`), and only the first schedule entry is written (the payout or
-- review queue; the operators' list by creation time is not). What a v4
-- would also need is left out: trimming the events kept in the record,
-- reading documents and events from there, and another way to list
-- withdrawals for operators. The rest is `commit_partition.lua` as
-- recorded, its fixed numbers written in.
--
-- Compare-and-set of one account partition: the new record, the journal
-- entries that explain it, the partition's documents, its events and the
-- schedule entries the change needs are written together, and only if the
-- record is still at the version the caller read. No business rule
-- lives here; the caller computed the new state in Rust.
--
-- Every call from a script costs about a microsecond on top of the command's
-- own work, and every byte of KEYS and ARGV is hashed once by Lua, so the
-- script makes one call per structure it changes (several fields or entries
-- per call), and an expiring document is one `SET … PX` that Redis reclaims
-- by itself (docs/redis.md, "What a commit costs").
--
-- KEYS[1] = account record (hash: version, data; reclaim_at while the
-- partition still holds expiring documents of layout v2, see below)
-- KEYS[2] = journal (list)   KEYS[3] = documents (hash: name -> body)
-- KEYS[4] = event stream
-- KEYS[5] = layout v2's reclaim index (sorted set: name -> time in ms)
-- KEYS[6 ..] = X expiring documents' own keys (strings with a time to live),
-- then S schedule keys, then U schedule keys: the partition's and its
-- shard's, so every key shares the shard's hash tag (one cluster slot).
-- ARGV[1] = expected version, ARGV[2] = the version after (both as Redis
-- writes integers, so they compare as strings), ARGV[3] = new account
-- (the texts, here and below, as the store writes them: packed or not, the
-- script never reads them), ARGV[4] = the commit's shape, 15 bytes: seven
-- counts of two bytes each (high, low) — journal entries E, documents to put
-- P, documents to delete D, events V, expiring documents X, schedule entries
-- S, schedule members removed U — then 1 when the X expiring documents must
-- not exist yet (the caller decided without reading them),
-- ARGV[5] = the expiring documents' time to live in ms, then E entries, P
-- (name, body) pairs, D names, V events, X (name, body) pairs, S (member,
-- time) pairs, U members.
-- (The processes listening for new events are told by the caller once the
-- commit has landed, many commits in one message: events.rs.)
-- (Numbers travel as bytes of one argument because every argument costs
-- Lua an allocation, and `tonumber` a `strtod`; the store's fixed numbers
-- are written into this text when it is loaded: 1000 events kept
-- per stream, 8 expired documents of layout v2
-- reclaimed per commit beyond X.)
-- Returns 1 when committed, 0 on a version conflict (or a missing record, or
-- an expiring document that had to be new and exists); a refused commit
-- writes nothing.
local record = redis.call('HMGET', KEYS[1], 'version', 'reclaim_at')
if record[1] ~= ARGV[1] then
  return 0
end
local e1, e0, p1, p0, d1, d0, v1, v0, x1, x0, s1, s0, u1, u0, new_only = string.byte(ARGV[4], 1, 15)
local entries, puts, deletes = e1 * 256 + e0, p1 * 256 + p0, d1 * 256 + d0
local events, expiring = v1 * 256 + v0, x1 * 256 + x0
local schedules, removals = s1 * 256 + s0, u1 * 256 + u0
local first_entry = 6
local first_put = first_entry + entries
local first_delete = first_put + 2 * puts
local first_event = first_delete + deletes
local first_expiring = first_event + events
local first_schedule = first_expiring + 2 * expiring
local first_removal = first_schedule + 2 * schedules
local first_schedule_key = 6 + expiring

-- Expiring documents are keys of their own with a time to live: Redis
-- reclaims them, and `SET … NX` both checks that one is new and writes it.
-- A partition written by layout v2 may still hold some in its
-- `documents` hash, indexed for reclaiming in KEYS[5]; its record then has
-- `reclaim_at` (when the earliest of them may go), and only then are they
-- looked at: checked when they must be new, and reclaimed when due.
local legacy = record[2]
local reclaim_at_after = nil
if expiring > 0 then
  local must_be_new = new_only == 1
  -- Kept for no time at all, a document is expired as soon as written: it
  -- is not kept (and replaces any kept under its name).
  local kept = ARGV[5] ~= '0'
  if must_be_new then
    if legacy then
      for at = first_expiring, first_schedule - 1, 2 do
        if redis.call('HEXISTS', KEYS[3], ARGV[at]) == 1 then
          return 0
        end
      end
    end
    if (expiring > 1 or not kept) and redis.call('EXISTS', unpack(KEYS, 6, first_schedule_key - 1)) > 0 then
      return 0
    end
  end
  -- Nothing is written before this point, so the first `SET … NX` may still refuse.
  if not kept then
    redis.call('DEL', unpack(KEYS, 6, first_schedule_key - 1))
  elseif expiring == 1 and must_be_new then
    if not redis.call('SET', KEYS[6], ARGV[first_expiring + 1], 'NX', 'PX', ARGV[5]) then
      return 0
    end
  else
    for n = 0, expiring - 1 do
      redis.call('SET', KEYS[6 + n], ARGV[first_expiring + 2 * n + 1], 'PX', ARGV[5])
    end
  end
  if legacy then
    local time = redis.call('TIME')
    local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
    if tonumber(legacy) <= now_ms then
      local limit = expiring + 8
      local oldest = redis.call('ZRANGE', KEYS[5], 0, limit, 'WITHSCORES')
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
        redis.call('HDEL', KEYS[3], unpack(due))
        redis.call('ZREM', KEYS[5], unpack(due))
      end
      if not reclaim_at_after then
        redis.call('HDEL', KEYS[1], 'reclaim_at')
      end
    end
  end
end

if reclaim_at_after then
  redis.call('HSET', KEYS[1], 'version', ARGV[2], 'data', ARGV[3], 'reclaim_at', reclaim_at_after)
else
  if puts == 1 and deletes == 0 and events == 1 then
    redis.call('HSET', KEYS[1], 'version', ARGV[2], 'data', ARGV[3], ARGV[first_put], ARGV[first_put + 1], 'e:' .. ARGV[2], ARGV[first_event])
  elseif puts == 1 and deletes == 0 then
    redis.call('HSET', KEYS[1], 'version', ARGV[2], 'data', ARGV[3], ARGV[first_put], ARGV[first_put + 1])
  else
    redis.call('HSET', KEYS[1], 'version', ARGV[2], 'data', ARGV[3])
  end
end

if entries == 1 then
  redis.call('RPUSH', KEYS[2], ARGV[first_entry])
elseif entries > 1 then
  redis.call('RPUSH', KEYS[2], unpack(ARGV, first_entry, first_put - 1))
end
if deletes > 0 then
  if puts > 0 then
    redis.call('HSET', KEYS[3], unpack(ARGV, first_put, first_delete - 1))
  end
  redis.call('HDEL', KEYS[3], unpack(ARGV, first_delete, first_event - 1))
elseif puts > 1 then
  redis.call('HSET', KEYS[3], unpack(ARGV, first_put, first_delete - 1))
end
if not (puts == 1 and deletes == 0 and events == 1) then
for at = first_event, first_expiring - 1 do
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', '1000', '*', 'body', ARGV[at])
end
end
for n = 0, math.min(schedules, 1) - 1 do
  local at = first_schedule + 2 * n
  redis.call('ZADD', KEYS[first_schedule_key + n], ARGV[at + 1], ARGV[at])
end
for n = 0, removals - 1 do
  redis.call('ZREM', KEYS[first_schedule_key + schedules + n], ARGV[first_removal + n])
end
return 1
