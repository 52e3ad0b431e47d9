-- GET /v1/wallet, each request as the next account (bearer JWT).
dofile(os.getenv("WALLETGATE_BENCH_LUA") .. "/common.lua")
local accounts, counter

function init(args)
  accounts = load_accounts(args[1])
  counter = thread_number * 7919
end

function request()
  counter = counter + 1
  local account = accounts[(counter % #accounts) + 1]
  return wrk.format("GET", "/v1/wallet", { ["Authorization"] = "Bearer " .. account.token })
end
