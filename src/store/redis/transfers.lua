--[[
  transfers.lua: one page of an account's transfers, newest first. Indexes
  are absolute (0 = the account's first transfer ever): the archiver trims
  the oldest from the list's left and counts them in P trimmed t:<account>,
  so a cursor means the same before and after a trim. Reading the count, the
  length and the range in one script keeps them consistent.

  Layout: scriptLayouts.ts (checked against this header by test/store/scriptHeaders.test.ts).
  KEYS
    1  transfers  P transfers:<accountRef>
    2  trimmed    P trimmed
  ARGV
    1  cursor     exclusive upper index, "" for the newest
    2  limit      page size (> 0)
    3  account    the accountRef

  Returns {start, base, item[start], ..., item[end - 1]} in list order
  (oldest first; the caller reverses). base = transfers trimmed from Redis
  (indexes below it are in the history store); start > 0 means older items
  remain (in Redis while start > base) and is the next cursor.
]]

local base = tonumber(redis.call("HGET", KEYS[2], "t:" .. ARGV[3]) or "0")
local total = base + redis.call("LLEN", KEYS[1])
local stop = total
if ARGV[1] ~= "" then
  stop = math.min(tonumber(ARGV[1]), total)
end
local start = math.max(base, stop - tonumber(ARGV[2]))
if start > stop then
  start = stop
end
local reply = { tostring(start), tostring(base) }
if stop > start then
  local items = redis.call("LRANGE", KEYS[1], start - base, stop - 1 - base)
  for i = 1, #items do
    reply[#reply + 1] = items[i]
  end
end
return reply
