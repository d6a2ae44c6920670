-- wrk script: POST a realistic ~1 KB chat completion request (bench/e2e/chat-body.json) to the URL's path.
-- Env: BENCH_BODY_FILE (default bench/e2e/chat-body.json), BENCH_API_KEY (client subscription key),
-- BENCH_USER_ID (x-user-id). done() prints one machine-readable line, "BENCHJSON {...}", with wrk's latency
-- percentiles in microseconds.
--
-- Like a chat client's traffic, the requests are not all the same: the last user message carries one of
-- 1024 ticket numbers and the x-user-id one of 64 users, so that per-request work the gateway could
-- remember (a prompt's token count, a user id's hash) is done for the new part of every request.
-- BENCH_FIXED=1 sends one identical request instead. The variants are built once per wrk thread.

local file = assert(io.open(os.getenv("BENCH_BODY_FILE") or "bench/e2e/chat-body.json", "rb"))
local body = file:read("*a"):gsub("%s+$", "")
file:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.headers["User-Agent"] = "spillway-bench/1 (wrk)"
wrk.headers["api-key"] = os.getenv("BENCH_API_KEY") or "sk-bench"
wrk.headers["x-user-id"] = os.getenv("BENCH_USER_ID") or "alice@example.com"

local requests = nil
local n = 0

if os.getenv("BENCH_FIXED") ~= "1" then
  -- init() runs in each wrk thread once wrk.host is known (wrk.format adds the Host header from it).
  function init(args)
    local last = body:match('^.*()"content":"')  -- the last message's content
    local user = os.getenv("BENCH_USER_ID") or "alice@example.com"
    requests = {}
    for i = 1, 1024 do
      local b = body:sub(1, last + 10) .. string.format("Ticket BILL-%d, build %d. ", 4000 + i, 90000 + i * 7) ..
          body:sub(last + 11)
      wrk.headers["x-user-id"] = string.format("%d.%s", i % 64, user)
      requests[i] = wrk.format(nil, nil, nil, b)
    end
    wrk.headers["x-user-id"] = user
  end

  function request()
    n = n % #requests + 1
    return requests[n]
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"p999_us":%d,"mean_us":%.1f,"max_us":%d,"err_connect":%d,"err_read":%d,"err_write":%d,' ..
    '"err_status":%d,"err_timeout":%d,"body_bytes":%d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.mean, latency.max, e.connect, e.read, e.write,
    e.status, e.timeout, #wrk.body))
end
