-- wrk: POST a vote with a fresh conversation id per request; the key comes from BENCH_KEY.
local counter = 0
local key = os.getenv("BENCH_KEY") or ""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if key ~= "" then wrk.headers["Authorization"] = "Bearer " .. key end

request = function()
  counter = counter + 1
  local body = string.format(
    '{"conversation_id":"bench-%d-%d","vote":"%s","reasons":["fast"]}',
    math.random(1, 1000000000), counter, (counter % 3 == 0) and "down" or "up")
  return wrk.format(nil, nil, nil, body)
end
