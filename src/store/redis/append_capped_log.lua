-- Appends one entry to a capped log and drops what falls beyond the newest
-- `keep`. Counting and pushing in one step keeps index i of the list at
-- position count - 1 - i.
-- KEYS[1] = the entries, a list, newest first
-- KEYS[2] = how many entries were ever appended (never reset)
-- ARGV[1] = the entry   ARGV[2] = keep (at least 1)
-- Returns the entry's position: the count before it.
local position = redis.call('INCR', KEYS[2]) - 1
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
return position
