-- POST /v1/withdrawals/quote: every check of a withdrawal but the PIN; reserves nothing.
dofile(os.getenv("WALLETGATE_BENCH_LUA") .. "/common.lua")
local accounts, counter

function init(args)
  accounts = load_accounts(args[1])
  counter = thread_number * 7919
end

function request()
  counter = counter + 1
  local account = accounts[(counter % #accounts) + 1]
  local body = string.format('{"amount":"1.00","binding_id":"%s"}', account.binding)
  return wrk.format("POST", "/v1/withdrawals/quote",
    { ["Authorization"] = "Bearer " .. account.token, ["Content-Type"] = "application/json" }, body)
end
