-- wrk script for the configuration-fetch benchmark (benches/config-fetch/run.sh). Environment:
--   FILES    a file of requests, one a line: `path` or `path<TAB>Authorization value`
--            (benches/config-fetch/authorizations.py writes the second kind)
--   PACE_MS  each connection waits this long between its requests (0: as fast as it can)
-- Each thread walks the list from its own starting point; every request carries a phone's
-- User-Agent. Anything but 200 is counted and reported (the run is then not a result).
local pace = tonumber(os.getenv("PACE_MS") or "0")
local requests = {}
for line in io.lines(os.getenv("FILES")) do
  local path, auth = line:match("^([^\t]+)\t(.+)$")
  path = path or line
  local headers = { ["User-Agent"] = "Cisco-CP8845/14.2.1 selfprov-bench" }
  if auth then headers["Authorization"] = auth end
  requests[#requests + 1] = { path = path, headers = headers }
end

local threads = {}
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  threads[#threads + 1] = thread
end

local i = 0
other = 0 -- global: done() reads it from each thread
function init(args)
  i = (id * 7919) % #requests
end

function request()
  i = i % #requests + 1
  local r = requests[i]
  return wrk.format("GET", r.path, r.headers)
end

function response(status, headers, body)
  if status ~= 200 then other = other + 1 end
end

if pace > 0 then
  function delay()
    return pace
  end
end

function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + (t:get("other") or 0) end
  io.write(string.format("not 200: %d\n", n))
end
