-- wrk script for bench/crud.py: one CRUD operation (env BENCH_OP) on table `bench`
-- with random keys in 1..BENCH_ROWS. Prints one "BENCH_RESULT {json}" line at the end.
local op = os.getenv("BENCH_OP") or "get"
local nrows = tonumber(os.getenv("BENCH_ROWS") or "100000")
local json_headers = { ["Content-Type"] = "application/json" }

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
end

function request()
  local k = math.random(1, nrows - 10)
  if op == "health" then
    return wrk.format("GET", "/health")
  elseif op == "get" then
    return wrk.format("GET", "/api/bench/query?id=" .. k)
  elseif op == "query10" then
    return wrk.format("POST", "/api/bench/query", json_headers,
      '{"input":{"id":{"gte":' .. k .. '}},"limit":10}')
  elseif op == "insert" then
    return wrk.format("POST", "/api/bench", json_headers,
      '{"input":{"name":"wrk ' .. k .. '","email":"wrk' .. k .. '@example.com","score":'
      .. (k % 1000) .. ',"balance":"12.50","created_at":"2026-01-01 00:00:00"}}')
  elseif op == "update" then
    return wrk.format("PUT", "/api/bench", json_headers,
      '{"input":{"score":' .. math.random(0, 999) .. '},"where":{"id":' .. k .. '}}')
  end
  error("unknown BENCH_OP " .. op)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,'
    .. '"status_errors":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,'
    .. '"timeouts":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end
