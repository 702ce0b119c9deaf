-- wrk script for the API benchmark (benches/api/run.sh). Environment:
--   TOKEN     an API token (sent as Authorization: Bearer)
--   SCENARIO  list | prefix | name | wildcard | sorted | devices
--   USERS, DEVICES  how many the database holds
--   PACE_MS   for `devices`: each connection waits this long between requests
local token = os.getenv("TOKEN")
local scenario = os.getenv("SCENARIO") or "list"
local users = tonumber(os.getenv("USERS") or "100000")
local devices = tonumber(os.getenv("DEVICES") or "1000")
local pace = tonumber(os.getenv("PACE_MS") or "0")

local headers = { ["Authorization"] = "Bearer " .. token }

function setup(thread)
  thread:set("id", math.random(1, 1000000))
end

function init(args)
  math.randomseed(os.time() + (id or 0))
end

local paths = {
  list = function()
    return string.format("/api/v1/users?limit=50&offset=%d", math.random(0, math.floor(users / 50) - 1) * 50)
  end,
  prefix = function()
    return string.format("/api/v1/users?search=user0%03d&limit=50", math.random(0, math.floor(users / 100) - 1) % 1000)
  end,
  name = function()
    return string.format("/api/v1/users?search=name%04d&sort=last_name&limit=50", math.random(0, 9999))
  end,
  wildcard = function()
    return string.format("/api/v1/users?search=*%04d*&limit=50", math.random(0, 9999))
  end,
  sorted = function()
    return string.format("/api/v1/users?sort=last_name&desc=true&limit=50&offset=%d", math.random(0, math.floor(users / 50) - 1) * 50)
  end,
  devices = function()
    return string.format("/api/v1/devices/SEP%012X", math.random(0, devices - 1))
  end,
}

request = function()
  return wrk.format("GET", paths[scenario](), headers)
end

function delay()
  return pace
end

-- Fail loudly on anything but 200: a benchmark of errors measures nothing.
local bad = 0
response = function(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
    if bad <= 3 then
      io.stderr:write(string.format("status %d: %s\n", status, body:sub(1, 200)))
    end
  end
end
