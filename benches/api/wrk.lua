-- wrk script for the API benchmark (benches/api/run.sh). Environment:
--   TOKEN     an API token (sent as Authorization: Bearer)
--   SCENARIO  list | keyset | prefix | name | wildcard | sorted | sorted_keyset | devices
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

-- URL-safe base64 without padding, as the API's page cursors (`next`, `after`) are written.
local b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local function base64url(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local chars = (b == nil) and 2 or ((c == nil) and 3 or 4)
    for k = 1, chars do
      local v = math.floor(n / 2 ^ (18 - 6 * (k - 1))) % 64
      out[#out + 1] = b64:sub(v + 1, v + 1)
    end
  end
  return table.concat(out)
end

-- The cursor a client holds after reading the page that ends with user `i` in this order,
-- as the API writes it (benches/api/src: user IDs user000000…, last names Name0000… by i % 10,000).
local function cursor(i, sort, desc)
  local id = string.format("user%06d", i)
  local key = (sort == "last_name") and string.format("Name%04d", i % 10000) or id
  return base64url(string.format('{"s":"%s","d":%s,"k":"%s","t":"%s"}', sort, tostring(desc), key, id))
end

local paths = {
  list = function()
    return string.format("/api/v1/users?limit=50&offset=%d", math.random(0, math.floor(users / 50) - 1) * 50)
  end,
  keyset = function()
    return string.format("/api/v1/users?limit=50&after=%s", cursor(math.random(0, users - 1), "user_id", false))
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
  sorted_keyset = function()
    return string.format("/api/v1/users?sort=last_name&desc=true&limit=50&after=%s", cursor(math.random(0, users - 1), "last_name", true))
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
