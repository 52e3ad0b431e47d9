-- Shared by the walletgate scenarios: each wrk thread gets its own number
-- (so generated keys never collide), reads the accounts file named as the
-- script's first argument ("<token> <binding id>" per line), and reports
-- latency percentiles and errors in one machine-readable line at the end.
local threads = {}
local next_thread = 0

function setup(thread)
  thread:set("thread_number", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

function load_accounts(path)
  local accounts = {}
  for line in io.lines(path) do
    local token, binding = line:match("^(%S+)%s+(%S+)")
    if token then
      table.insert(accounts, { token = token, binding = binding })
    end
  end
  return accounts
end

-- The usual init: the accounts file, and a counter that starts each thread
-- at a different account; `next_account` rotates through them.
local accounts, counter

function init_accounts(path)
  accounts = load_accounts(path)
  counter = thread_number * 7919
end

function next_account()
  counter = counter + 1
  return accounts[(counter % #accounts) + 1], counter
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("BENCH requests=%d duration_us=%d errors=%d p50_us=%d p99_us=%d p999_us=%d\n",
    summary.requests, summary.duration, errors,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
