-- The ceiling: the bare actix endpoint, a GET with a tiny JSON answer.
dofile(os.getenv("WALLETGATE_BENCH_LUA") .. "/common.lua")
