-- A measuring prototype, not a store: a commit script that returns at once,
-- for `bench/commit-prototype.py OUT_DIR bench/prototypes/commit_floor.lua`.
-- What is left is what any script commit of a withdrawal pays before its
-- first `redis.call`: the request read and parsed, its keys and arguments
-- made into Lua strings (each byte hashed) and tables, the script run and
-- its reply (docs/redis.md, "Where 15 µs lies").
return 1
