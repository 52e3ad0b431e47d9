-- Compare-and-swap of a unique-index key.
-- KEYS[1] = index key
-- ARGV[1] = '1' if a current value is expected, '0' if the key must be absent
-- ARGV[2] = the expected current value (when ARGV[1] = '1')
-- ARGV[3] = '1' to set a new value, '0' to delete   ARGV[4] = the new value
-- Returns 1 when swapped, 0 when the current value was not the expected one.
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if current ~= ARGV[2] then return 0 end
else
  if current then return 0 end
end
if ARGV[3] == '1' then
  redis.call('SET', KEYS[1], ARGV[4])
else
  redis.call('DEL', KEYS[1])
end
return 1
