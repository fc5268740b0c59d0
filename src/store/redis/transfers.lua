--[[
  transfers.lua: one page of an account's transfers, newest first. The list
  only grows (RPUSH), so an absolute index is a stable cursor; reading the
  length and the range in one script keeps them consistent.

  KEYS  1  P transfers:<accountRef>
  ARGV  1  cursor: exclusive upper list index, "" for the newest
        2  page size (> 0)

  Returns {start, item[start], ..., item[end - 1]} in list order (oldest
  first; the caller reverses). start > 0 means older items remain and is the
  next cursor.
]]

local length = redis.call("LLEN", KEYS[1])
local stop = length
if ARGV[1] ~= "" then
  stop = math.min(tonumber(ARGV[1]), length)
end
local start = math.max(0, stop - tonumber(ARGV[2]))
local reply = { tostring(start) }
if stop > start then
  local items = redis.call("LRANGE", KEYS[1], start, stop - 1)
  for i = 1, #items do
    reply[#reply + 1] = items[i]
  end
end
return reply
