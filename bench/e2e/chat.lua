-- wrk script: POST a realistic ~1 KB chat completion request (bench/e2e/chat-body.json) to the URL's path.
-- Env: BENCH_BODY_FILE (default bench/e2e/chat-body.json), BENCH_API_KEY (client subscription key),
-- BENCH_USER_ID (x-user-id), BENCH_TICKET_BASE (added to the ticket numbers, default 0), BENCH_HEADERS
-- (more fields, below). done() prints one machine-readable line, "BENCHJSON {...}", with wrk's latency
-- percentiles in microseconds.
--
-- Like a chat client's traffic, the requests are not all the same: the last user message starts with a
-- ticket number that no earlier request carried (a per-thread counter, fixed width so that the request's
-- length never changes), and the x-user-id is one of 64 users. So the work the gateway can remember (the
-- token counts of the system prompt and earlier turns, a user id's hash) is remembered, and the new message
-- is tokenized on every request, as it would be in a conversation. BENCH_FIXED=1 sends one identical
-- request instead. The 64 request heads are built once per wrk thread; request() only fills in the number.

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
-- BENCH_HEADERS: more fields, one "name: value" a line (bench/run's portkey target names its upstream there).
for line in (os.getenv("BENCH_HEADERS") or ""):gmatch("[^\n]+") do
  local name, value = line:match("^([^:]+):%s*(.-)%s*$")
  if name then wrk.headers[name] = value end
end

local threads = 0
local heads, tail = nil, nil
local n = 0

-- setup() runs in the main Lua state once per wrk thread: each thread gets its own number range.
function setup(thread)
  threads = threads + 1
  thread:set("thread_index", threads)
end

local PLACEHOLDER = "@@TICKET@@@@@@"  -- 14 bytes: "BILL-" and a 9-digit number

if os.getenv("BENCH_FIXED") ~= "1" then
  -- init() runs in each wrk thread once wrk.host is known (wrk.format adds the Host header from it).
  function init(args)
    local last = body:match('^.*()"content":"')  -- the last message's content
    local user = os.getenv("BENCH_USER_ID") or "alice@example.com"
    local b = body:sub(1, last + 10) .. "Ticket " .. PLACEHOLDER .. ". " .. body:sub(last + 11)
    heads = {}
    for i = 1, 64 do
      wrk.headers["x-user-id"] = string.format("%d.%s", i - 1, user)
      local req = wrk.format(nil, nil, nil, b)
      local at = req:find(PLACEHOLDER, 1, true)
      heads[i] = req:sub(1, at - 1)
      tail = req:sub(at + #PLACEHOLDER)
    end
    wrk.headers["x-user-id"] = user
    -- thread k: k00000000 + BENCH_TICKET_BASE, then +1, ... (a second run passes another base, so that it
    -- does not resend the first run's messages)
    n = (thread_index or 1) * 100000000 + (tonumber(os.getenv("BENCH_TICKET_BASE") or "0") or 0)
  end

  function request()
    n = n + 1
    return heads[n % 64 + 1] .. string.format("BILL-%09d", n) .. tail
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
