-- The Motörhead workload for wrk, driven by bench/load.py through environment variables:
--   BENCH_MODE      mixed | post | get
--   BENCH_SESSIONS  how many sessions (each wrk thread owns every nth one)
--   BENCH_PREFIX    session id prefix (a fresh one per run; a GET run reads a mixed run's)
--   BENCH_PORTS     comma-separated ports; wrk's threads are spread over them
--   BENCH_THREADS   wrk's thread count (-t)
--   BENCH_CHECK     1: verify every answer (memhead); 0: count only (the floor)
--
-- mixed: each session alternates a POST of a LangChain-style Human/AI pair and a GET of its
-- memory. A session has at most one request in flight (it leaves the idle list when sent and
-- comes back when answered, recognised by the x-request-id memhead echoes), so with checking
-- on, every GET must return, newest first, the AI message of the last POST answered 2xx.
-- post: POSTs only. get: GETs only, of sessions a mixed run wrote; each must be that session's
-- (a session the mixed run never reached answers empty: counted apart, see bench/load.py).

local mode = os.getenv("BENCH_MODE")
local sessions = tonumber(os.getenv("BENCH_SESSIONS"))
local prefix = os.getenv("BENCH_PREFIX")
local check = os.getenv("BENCH_CHECK") == "1"
local nthreads = tonumber(os.getenv("BENCH_THREADS"))
local ports = {}
for port in string.gmatch(os.getenv("BENCH_PORTS"), "%d+") do ports[#ports + 1] = port end

local threads = {}

function setup(thread)
  local i = #threads
  thread.addr = wrk.lookup("127.0.0.1", ports[i % #ports + 1])[1]
  thread:set("id", i)
  threads[#threads + 1] = thread
end

local json = {["Content-Type"] = "application/json"}
local pair = '{"messages":[{"role":"Human","content":"question s=%d n=%d: tell me more"},'
  .. '{"role":"AI","content":"answer s=%d n=%d, with some detail"}]}'

local idle = {}    -- sessions of this thread with no request in flight
local get_next = {} -- session -> its next request is a GET
local acked = {}    -- session -> n of its last POST answered 2xx
local n = 0
checked, mismatches, unanswered, empty = 0, 0, 0, 0

function init(args)
  math.randomseed(7919 * (id + 1))
  for s = id + 1, sessions, nthreads do idle[#idle + 1] = s end
end

local function path(s)
  return "/sessions/" .. prefix .. s .. "/memory"
end

local function take()
  if not check then return math.random(sessions) end
  local i = math.random(#idle)
  local s = idle[i]
  idle[i] = idle[#idle]
  idle[#idle] = nil
  return s
end

function request()
  n = n + 1
  local s = take()
  local get = mode == "get" or (mode == "mixed" and (get_next[s] or (not check and n % 2 == 0)))
  if get then
    return wrk.format("GET", path(s), {["X-Request-ID"] = "g" .. s .. "-" .. n})
  end
  local headers = {["Content-Type"] = "application/json", ["X-Request-ID"] = "p" .. s .. "-" .. n}
  return wrk.format("POST", path(s), headers, string.format(pair, s, n, s, n))
end

if check then
  function response(status, headers, body)
    local rid = headers["x-request-id"] or headers["X-Request-ID"]
    if rid == nil then
      unanswered = unanswered + 1
      return
    end
    local kind, s, sent = string.match(rid, "^(%a)(%d+)-(%d+)$")
    s, sent = tonumber(s), tonumber(sent)
    if kind == "p" then
      if status >= 200 and status < 300 then acked[s] = sent end
      get_next[s] = mode == "mixed"
    else
      local got_s, got_n = string.match(body, '"content":"answer s=(%d+) n=(%d+)')
      if mode == "mixed" then
        if acked[s] ~= nil then
          checked = checked + 1
          if tonumber(got_n) ~= acked[s] then mismatches = mismatches + 1 end
        end
        get_next[s] = false
      else
        checked = checked + 1
        if got_s == nil then
          empty = empty + 1  -- a session the mixed run never reached (short runs only)
        elseif tonumber(got_s) ~= s then
          mismatches = mismatches + 1
        end
      end
    end
    idle[#idle + 1] = s
  end
end

function done(summary, latency, requests)
  local c, m, u, z = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    c = c + (thread:get("checked") or 0)
    m = m + (thread:get("mismatches") or 0)
    u = u + (thread:get("unanswered") or 0)
    z = z + (thread:get("empty") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_s": %.3f, "p50_ms": %.3f, "p99_ms": %.3f, '
    .. '"p999_ms": %.3f, "max_ms": %.3f, "mean_ms": %.3f, "checked": %d, "mismatches": %d, '
    .. '"unanswered": %d, "empty": %d, "errors": {"connect": %d, "read": %d, "write": %d, '
    .. '"status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, latency:percentile(99.9) / 1e3, latency.max / 1e3,
    latency.mean / 1e3, c, m, u, z, e.connect, e.read, e.write, e.status, e.timeout))
end
