--[[
  transfers.lua: one page of an account's transfers, newest first. Indexes
  are absolute (0 = the account's first transfer ever): the archiver trims
  the oldest from the list's left and counts them in P trimmed t:<account>,
  so a cursor means the same before and after a trim. Reading the count, the
  length, the range and the events the range refers to in one script keeps
  them consistent.

  A list element is a transfer's JSON (it starts with "{": lists of a capped
  stream, and every list written by earlier versions) or a reference
  "<event id>#<position>" to the transfer at that position (from 0) of that
  event's `transfers` in P events (apply.lua, stream uncapped): each is
  resolved here with one XRANGE per distinct event and given back as the JSON
  stored in the event, byte for byte.

  Layout: scriptLayouts.ts (checked against this header by test/store/scriptHeaders.test.ts).
  KEYS
    1  transfers  P transfers:<accountRef>
    2  trimmed    P trimmed
    3  events     P events: stream
  ARGV
    1  cursor     exclusive upper index, "" for the newest
    2  limit      page size (> 0)
    3  account    the accountRef

  Returns {start, base, item[start], ..., item[end - 1]} in list order
  (oldest first; the caller reverses), each item a transfer's JSON. base =
  transfers trimmed from Redis (indexes below it are in the history store);
  start > 0 means older items remain (in Redis while start > base) and is the
  next cursor.
  An element that is neither, or a reference the stream cannot resolve (its
  event trimmed, a list edited by hand), is an error reply naming the element
  and its index: the page cannot be given whole.
]]

-- @include transferRefs.lua

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
    local item = items[i]
    if string.byte(item, 1) ~= 123 then -- not "{": a reference
      local transfer, why = resolveTransferRef(item, KEYS[3])
      if not transfer then
        return redis.error_reply("ERR transfers.lua: transfer " .. string.format("%d", start + i - 1) .. " of " .. ARGV[3] ..
          " (" .. item .. ") " .. why)
      end
      item = transfer
    end
    reply[#reply + 1] = item
  end
end
return reply
