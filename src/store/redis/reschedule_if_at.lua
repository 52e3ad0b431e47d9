-- Moves or removes a schedule member only if it is still at the expected
-- time, so a claimer's late decision cannot undo a newer scheduling.
-- KEYS[1] = schedule (sorted set)
-- ARGV[1] = member   ARGV[2] = expected score
-- ARGV[3] = '1' to move to ARGV[4], '0' to remove
-- Returns 1 when it changed the member, 0 when the member was elsewhere or gone.
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) ~= tonumber(ARGV[2]) then return 0 end
if ARGV[3] == '1' then
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return 1
