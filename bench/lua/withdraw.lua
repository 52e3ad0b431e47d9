-- POST /v1/withdrawals: PIN check, limits, hold, schedule, with a unique
-- Idempotency-Key per request. Accounts come from the file; a file with one
-- line makes every request hit one hot account.
dofile(os.getenv("WALLETGATE_BENCH_LUA") .. "/common.lua")
local prefix, pin

function init(args)
  init_accounts(args[1])
  pin = args[2]
  prefix = string.format("bench-%s-%d-", args[3] or "run", thread_number)
end

function request()
  local account, n = next_account()
  local body = string.format('{"amount":"1.00","binding_id":"%s","pin":"%s"}', account.binding, pin)
  return wrk.format("POST", "/v1/withdrawals", {
    ["Authorization"] = "Bearer " .. account.token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = prefix .. n,
  }, body)
end
