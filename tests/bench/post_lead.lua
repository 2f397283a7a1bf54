-- wrk script: POST a canonical JSON lead with a unique email per request (so each is a new lead
-- routed through the demo config's default pool), spread over countries and company sizes.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if os.getenv("LEADROUTER_TOKEN") then
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("LEADROUTER_TOKEN")
end

local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

local countries = { "US", "DE", "GB", "FR", "CA", "JP", "BR" }
local n = 0
function request()
  n = n + 1
  local body = string.format(
    '{"email":"b%d-%d@benchco%d.com","company":"Bench %d","country":"%s","seats":%d}',
    tid, n, n % 5003, n % 5003, countries[(n % #countries) + 1], (n % 7) * 150)
  return wrk.format(nil, nil, nil, body)
end

-- Paced runs: with LEADROUTER_DELAY_MS set, each connection waits that long before each request,
-- so N connections offer at most N * 1000 / delay requests a second (an offered load, not
-- as-fast-as-possible).
local delay_ms = tonumber(os.getenv("LEADROUTER_DELAY_MS") or "")
if delay_ms then
  function delay()
    return delay_ms
  end
end
