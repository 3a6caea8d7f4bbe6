-- wrk script: replays requests from a file, one per line "METHOD<TAB>PATH<TAB>TOKEN<TAB>BODY[<TAB>HEADERS]" (TOKEN,
-- BODY may be "-"; HEADERS are name<US>value<US>name<US>value…, US = \31), each thread starting at its own
-- offset; POSTs without their own headers get a fresh Idempotency-Key. Prints a JSON summary line.
-- wrk -t2 -c64 -d10s -s bench/requests.lua http://127.0.0.1:8000 -- requests.tsv
-- Each line comes from its own client address (X-Forwarded-For, trusted with TRUSTED_PROXY_HOPS=1 as behind the
-- production reverse proxy), so per-address rate limits see many residents, not one 127.0.0.1.
local threads = {}
local counter = 0
statuses = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  lines = {}
  for line in io.lines(args[1]) do
    local method, path, token, rest = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    local body, extra = rest:match("^([^\t]*)\t(.*)$")
    if body == nil then body, extra = rest, "" end
    local headers = {}
    for name, value in extra:gmatch("([^\31]+)\31([^\31]*)\31?") do headers[name] = value end
    local n = #lines + 1
    headers["X-Forwarded-For"] = string.format("10.%d.%d.%d", id % 256, math.floor(n / 256) % 256, n % 256)
    table.insert(lines, {method = method, path = path, token = token, body = body, headers = headers,
                         idempotent = extra == ""})
  end
  -- A random start per thread and per run: a warm-up and the measured run do not replay the same lines (a
  -- booking replayed is a 409, not a booking).
  math.randomseed(os.time() * 2 + id)
  counter = math.random(0, #lines - 1)
end

function request()
  counter = counter + 1
  local r = lines[(counter % #lines) + 1]
  local headers = {}
  for name, value in pairs(r.headers) do headers[name] = value end
  if r.token ~= "-" then headers["Authorization"] = "Bearer " .. r.token end
  local body = nil
  if r.body ~= "-" then
    body = r.body
    headers["Content-Type"] = "application/json"
  end
  if r.method == "POST" and r.idempotent then
    headers["Idempotency-Key"] = string.format("bench-%d-%d-%d", id, counter, math.random(1, 1000000000))
  end
  return wrk.format(r.method, r.path, headers, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local e = summary.errors
  local tally = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do tally[status] = (tally[status] or 0) + count end
  end
  local parts = {}
  for status, count in pairs(tally) do table.insert(parts, string.format('"%d": %d', status, count)) end
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout, table.concat(parts, ", ")))
end
