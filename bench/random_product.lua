-- wrk script: GET <path-template> with product ids uniform in [lo, hi] (the convention of the
-- systems reviewsd replaces: the last 10% of products). Usage:
--   wrk ... -s bench/random_product.lua -- '/reviews/meta?product_id=%d' LO HI
local template, lo, hi
function init(args)
  template = args[1]
  lo = tonumber(args[2])
  hi = tonumber(args[3])
  math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0))
end
function request()
  return wrk.format("GET", string.format(template, math.random(lo, hi)))
end
local non200 = 0
function response(status)
  if status ~= 200 then non200 = non200 + 1 end
end
function done(summary)
  io.write(string.format("non-2xx responses: %d\n", summary.errors.status))
end
