-- Memory-item workloads for wrk, and their message-API baselines, driven by bench/items.py
-- through environment variables:
--   BENCH_MODE        put | get | query | filter (the /store routes), or
--                     msg_post | msg_get | msg_search (the native message API, the baseline)
--   BENCH_NAMESPACES  how many namespaces ("bench", "u<j>") / sessions ("s<j>") were filled
--   BENCH_PER         items per namespace ("k<i>")
--   BENCH_TOPICS      how many distinct "topic" values the items have ("t<k>")
--   BENCH_WORDS       the vocabulary, comma-separated (item texts and queries draw from it)
--
-- Every request is independent (no per-session state): puts replace filled items with new
-- text, gets read filled items, searches ask two words of the vocabulary. Answers are counted
-- by status only; a non-2xx answer is an error wrk reports and bench/items.py fails on.

local mode = os.getenv("BENCH_MODE")
local namespaces = tonumber(os.getenv("BENCH_NAMESPACES"))
local per = tonumber(os.getenv("BENCH_PER"))
local topics = tonumber(os.getenv("BENCH_TOPICS"))
local words = {}
for w in string.gmatch(os.getenv("BENCH_WORDS"), "[^,]+") do words[#words + 1] = w end

local json = {["Content-Type"] = "application/json"}
local n = 0

function init(args)
  math.randomseed(7919)
end

local function text(k)
  local out = {}
  for i = 1, k do out[i] = words[math.random(#words)] end
  return table.concat(out, " ")
end

local builders = {
  put = function()
    local body = string.format(
      '{"namespace":["bench","u%d"],"key":"k%d","value":{"text":"%s","topic":"t%d","n":%d}}',
      math.random(namespaces) - 1, math.random(per) - 1, text(12), math.random(topics) - 1, n)
    return wrk.format("PUT", "/store/items", json, body)
  end,
  get = function()
    local path = string.format("/store/items?namespace=bench.u%d&key=k%d",
      math.random(namespaces) - 1, math.random(per) - 1)
    return wrk.format("GET", path)
  end,
  query = function()
    local body = string.format('{"namespace_prefix":["bench"],"query":"%s","limit":10}', text(2))
    return wrk.format("POST", "/store/items/search", json, body)
  end,
  filter = function()
    local body = string.format(
      '{"namespace_prefix":["bench","u%d"],"filter":{"topic":"t%d"},"limit":10}',
      math.random(namespaces) - 1, math.random(topics) - 1)
    return wrk.format("POST", "/store/items/search", json, body)
  end,
  msg_post = function()
    local body = string.format('{"messages":[{"role":"user","content":"%s"}]}', text(12))
    return wrk.format("POST", string.format("/api/v1/sessions/s%d/messages",
      math.random(namespaces) - 1), json, body)
  end,
  msg_get = function()
    return wrk.format("GET", string.format("/api/v1/sessions/s%d/memory",
      math.random(namespaces) - 1))
  end,
  msg_search = function()
    local body = string.format('{"query":"%s","mode":"keyword","limit":10}', text(2))
    return wrk.format("POST", "/api/v1/search", json, body)
  end,
}

local make = builders[mode]

function request()
  n = n + 1
  return make()
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_s": %.3f, "p50_ms": %.3f, "p99_ms": %.3f, '
    .. '"max_ms": %.3f, "errors": {"connect": %d, "read": %d, "write": %d, '
    .. '"status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3,
    e.connect, e.read, e.write, e.status, e.timeout))
end
