--[[
  ledger.lua: an account's ledger entries with seq > afterSeq that Redis still
  holds, ascending. The archiver trims archived entries from the list's left
  and records the last trimmed seq in P trimmed e:<account>, so the entry
  with seq s sits at list index s - 1 - trimmedThrough. Reading both in one
  script keeps them consistent.

  Layout: scriptLayouts.ts (checked against this header by test/store/scriptHeaders.test.ts).
  KEYS
    1  ledger    P ledger:<accountRef>
    2  trimmed   P trimmed
  ARGV
    1  afterSeq
    2  limit     > 0
    3  account   the accountRef

  Returns {trimmedThrough, entry JSON...}: entries with seq <= trimmedThrough
  are in the history store only.
]]

local trimmedThrough = tonumber(redis.call("HGET", KEYS[2], "e:" .. ARGV[3]) or "0")
local first = math.max(0, tonumber(ARGV[1]) - trimmedThrough)
local items = redis.call("LRANGE", KEYS[1], first, first + tonumber(ARGV[2]) - 1)
local reply = { tostring(trimmedThrough) }
for i = 1, #items do
  reply[#reply + 1] = items[i]
end
return reply
