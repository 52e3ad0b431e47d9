-- GET /v1/wallet, each request as the next account (bearer JWT).
dofile(os.getenv("WALLETGATE_BENCH_LUA") .. "/common.lua")

function init(args)
  init_accounts(args[1])
end

function request()
  local account = next_account()
  return wrk.format("GET", "/v1/wallet", { ["Authorization"] = "Bearer " .. account.token })
end
