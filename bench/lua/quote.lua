-- POST /v1/withdrawals/quote: every check of a withdrawal but the PIN; reserves nothing.
dofile(os.getenv("WALLETGATE_BENCH_LUA") .. "/common.lua")

function init(args)
  init_accounts(args[1])
end

function request()
  local account = next_account()
  local body = string.format('{"amount":"1.00","binding_id":"%s"}', account.binding)
  return wrk.format("POST", "/v1/withdrawals/quote",
    { ["Authorization"] = "Bearer " .. account.token, ["Content-Type"] = "application/json" }, body)
end
