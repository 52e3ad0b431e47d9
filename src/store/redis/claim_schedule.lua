-- Claims due members of one shard's schedule with a lease: up to ARGV[3]
-- members scored at or before ARGV[1], earliest first, are re-scored to
-- ARGV[2] (the lease's end) in one step, so of several claimers each member
-- goes to exactly one, and a claimer that comes second takes the next ones.
-- KEYS[1] = the shard's schedule (sorted set)
-- Returns a flat list: member, previous score, member, previous score, ...
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
for i = 1, #due, 2 do
  redis.call('ZADD', KEYS[1], ARGV[2], due[i])
end
return due
