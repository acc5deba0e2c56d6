-- wrk script: GET <path-template> with product ids drawn by one of three mixes. Usage:
--   wrk ... -s bench/product_mix.lua URL -- TEMPLATE MODE LO HI
--   TEMPLATE  a path with one %d, e.g. '/reviews?product_id=%d'
--   MODE      uniform  ids uniform in [LO, HI] (the read issue's convention: the last 10% of
--                      products, as the systems reviewsd replaces were measured)
--             hot      the products are [LO, HI] (cache_vs_nginx.sh passes the 10,000 ids
--                      HI-9999..HI): 80% of requests go to a fixed hot 20% of them, every 5th id
--                      from LO (2,000 of 10,000), uniformly; 20% to the other 80%, uniformly
--             repeat   the 10 fixed ids HI-9..HI, uniformly
-- Responses other than 200 are counted per thread and printed by done() as
-- "non-200 responses: N" (parsed by read_vs_pgbench.sh and cache_vs_nginx.sh).
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

local template, mode, lo, hi, nhot, ncold
non200 = 0  -- global: done() reads it from each thread's state with thread:get

function init(args)
  template, mode, lo, hi = args[1], args[2], tonumber(args[3]), tonumber(args[4])
  if not (template and mode and lo and hi) or lo > hi then
    error("usage: -- TEMPLATE uniform|hot|repeat LO HI")
  end
  if mode == "hot" then
    local n = hi - lo + 1
    nhot = math.floor((n + 4) / 5)  -- offsets 0, 5, 10, ... from lo
    ncold = n - nhot                -- the four ids after each hot one
  elseif mode == "repeat" then
    if hi - 9 < lo then error("repeat needs at least 10 ids in [LO, HI]") end
  elseif mode ~= "uniform" then
    error("MODE must be uniform, hot or repeat, not " .. mode)
  end
  math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0))
end

local function pick()
  if mode == "uniform" then
    return math.random(lo, hi)
  elseif mode == "hot" then
    if ncold == 0 or math.random() < 0.8 then
      return lo + 5 * math.random(0, nhot - 1)
    end
    local c = math.random(0, ncold - 1)  -- the c-th id that is not a multiple of 5 from lo
    return lo + 5 * math.floor(c / 4) + 1 + c % 4
  else
    return hi - math.random(0, 9)
  end
end

function request()
  return wrk.format("GET", string.format(template, pick()))
end

function response(status)
  if status ~= 200 then non200 = non200 + 1 end
end

function done(summary)
  local n = 0
  for _, t in ipairs(threads) do n = n + (t:get("non200") or 0) end
  io.write(string.format("non-200 responses: %d\n", n))
end
