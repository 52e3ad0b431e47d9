-- POST /v1/auth/login: bounded by the password hash (Argon2id) by design.
-- Reads "<phone> <password>" lines from the file named as the first argument.
dofile(os.getenv("WALLETGATE_BENCH_LUA") .. "/common.lua")
local logins, counter

function init(args)
  logins = {}
  for line in io.lines(args[1]) do
    local phone, password = line:match("^(%S+)%s+(%S+)")
    if phone then
      table.insert(logins, string.format('{"phone":"%s","password":"%s"}', phone, password))
    end
  end
  counter = thread_number * 7919
end

function request()
  counter = counter + 1
  return wrk.format("POST", "/v1/auth/login", { ["Content-Type"] = "application/json" },
    logins[(counter % #logins) + 1])
end
