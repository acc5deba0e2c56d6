-- wrk script: 16 pipelined GETs of the fixed 1.5 KB route per write.
init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format("GET", "/bench/fixed") end
  req = table.concat(r)
end
request = function() return req end
