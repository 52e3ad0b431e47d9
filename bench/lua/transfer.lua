-- POST /v1/transfers: 0.01 CNY from a random account to another random one
-- of the file ("<token> <account id>" per line), by account id, with the
-- PIN and a unique Idempotency-Key per request; the request delivers it.
dofile(os.getenv("WALLETGATE_BENCH_LUA") .. "/common.lua")
local accounts, prefix, pin, counter

function init(args)
  accounts = load_accounts(args[1])
  pin = args[2]
  prefix = string.format("bench-%s-%d-", args[3] or "run", thread_number)
  counter = 0
  math.randomseed(7919 * (thread_number + 1))
end

function request()
  counter = counter + 1
  local from = math.random(#accounts)
  -- Any other account: one of the #accounts - 1 others, uniformly.
  local to = math.random(#accounts - 1)
  if to >= from then
    to = to + 1
  end
  -- load_accounts names the second field `binding`; here it is the account id.
  local body = string.format('{"to":"%s","amount":"0.01","pin":"%s"}', accounts[to].binding, pin)
  return wrk.format("POST", "/v1/transfers", {
    ["Authorization"] = "Bearer " .. accounts[from].token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = prefix .. counter,
  }, body)
end
