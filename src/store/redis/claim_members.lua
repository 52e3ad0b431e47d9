-- Claims chosen members of one shard's schedule with a lease: each member
-- still scored at or before ARGV[1] is re-scored to ARGV[2] (the lease's
-- end) in one step, so of several claimers each member goes to exactly one.
-- KEYS[1] = the shard's schedule (sorted set)
-- ARGV[1] = due by (ms)   ARGV[2] = lease end (ms)   ARGV[3..] = members
-- Returns a flat list: member, previous score, member, previous score, ...
local claimed = {}
local due_by = tonumber(ARGV[1])
for i = 3, #ARGV do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) <= due_by then
    redis.call('ZADD', KEYS[1], ARGV[2], ARGV[i])
    claimed[#claimed + 1] = ARGV[i]
    claimed[#claimed + 1] = score
  end
end
return claimed
