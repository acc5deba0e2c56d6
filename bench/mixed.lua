-- wrk script: the mixed load of issue 5 over a loaded data set.
--   90% GET (half /reviews, half /reviews/meta; products uniform over the last 10%),
--    5% PUT /reviews/:id/helpful, 1% PUT /reviews/:id/report (review ids uniform over all),
--    4% POST /reviews.
-- Usage: wrk ... -s bench/mixed.lua -- LO HI MAX_REVIEW_ID
local lo, hi, max_review
local counts = {get = 0, helpful = 0, report = 0, post = 0}
function init(args)
  lo, hi, max_review = tonumber(args[1]), tonumber(args[2]), tonumber(args[3])
  math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0))
end
local post_headers = {["Content-Type"] = "application/json"}
function request()
  local r = math.random(100)
  if r <= 90 then
    counts.get = counts.get + 1
    local path = (r % 2 == 0) and "/reviews?product_id=" or "/reviews/meta?product_id="
    return wrk.format("GET", path .. math.random(lo, hi))
  elseif r <= 95 then
    counts.helpful = counts.helpful + 1
    return wrk.format("PUT", "/reviews/" .. math.random(max_review) .. "/helpful")
  elseif r <= 96 then
    counts.report = counts.report + 1
    return wrk.format("PUT", "/reviews/" .. math.random(max_review) .. "/report")
  end
  counts.post = counts.post + 1
  local body = string.format(
    '{"product_id":%d,"rating":%d,"summary":"bench","body":"A review written by the mixed bench.",' ..
    '"recommend":true,"name":"bench","email":"bench@example.com","photos":["https://example.com/b.jpg"]}',
    math.random(lo, hi), math.random(5))
  return wrk.format("POST", "/reviews", post_headers, body)
end
