-- Reads a capped log's entries at positions [start, end), newest first,
-- where the caller's window is worked out from the count read here, in the
-- same step as the entries (an append in between would shift the indexes).
-- KEYS[1] = the entries, newest first   KEYS[2] = the count ever appended
-- ARGV[1] = before (exclusive; -1: from the newest)   ARGV[2] = limit
-- Returns {count, entry at end - 1, entry at end - 2, …}; fewer entries
-- than the window when the oldest of it are no longer kept.
local count = tonumber(redis.call('GET', KEYS[2]) or '0')
local before = tonumber(ARGV[1])
local finish = count
if before >= 0 and before < count then finish = before end
local start = math.max(finish - tonumber(ARGV[2]), 0)
if start >= finish then return {tostring(count)} end
local entries = redis.call('LRANGE', KEYS[1], count - finish, count - 1 - start)
table.insert(entries, 1, tostring(count))
return entries
