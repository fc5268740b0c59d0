--[[
  events.lua: a page of the events stream, each event with its ledger entries.

  An event holds its apply's transfers and references to its entries
  (`entryRefs`: [[accountRef, seq], ...]); each entry is stored once, in its
  account's ledger list, where the entry with seq s sits at list index
  s - 1 - trimmedThrough (P trimmed e:<account>, see ledger.lua). This reads
  the page and those entries in one script, so they are consistent with each
  other and with the trim cursor. Events written before entries were stored
  once carry the entries themselves (field `entries`): passed on as they are.

  The ledger keys are built from the references and ARGV 4 (P), not declared in
  KEYS: which accounts a page touches is only known once it is read. The store
  runs on one Redis (or a primary with replicas), never a cluster, so this holds.

  Layout: scriptLayouts.ts (checked against this header by test/store/scriptHeaders.test.ts).
  KEYS
    1  events     P events: stream
    2  trimmed    P trimmed: hash (cursor; e:<account> = entries trimmed through)
  ARGV
    1  direction  "asc": ids after ARGV 2, oldest first; "desc": ids before ARGV 2, newest first
    2  from       a stream id (exclusive), or "" for the start ("asc") or the end ("desc")
    3  count      at most this many events, > 0
    4  prefix     P, the key prefix of the ledger lists (P ledger:<accountRef>)
    5  detail     "entries": each event with its entries; "outline": with its entry references
                  instead ([[accountRef, seq], ...]; an event of an earlier version: its entries)

  Returns {trimCursor, id, entries, transfers, id, entries, transfers, ...}: trimCursor is
  P trimmed's cursor ("0": never trimmed); per event its id, its entries as one JSON array
  (in the apply's order; "outline": the references) and its transfers as one JSON array.
  An entry an event references that Redis does not hold (trimmed without its event, or a list
  edited by hand) is an error reply naming it: the page cannot be given whole.
]]

local direction, from, count, prefix, detail = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
if (direction ~= "asc" and direction ~= "desc") or not count or count < 1 or (detail ~= "entries" and detail ~= "outline") then
  return redis.error_reply("ERR events.lua: direction must be asc or desc, count at least 1, detail entries or outline")
end
local page
if direction == "asc" then
  page = redis.call("XRANGE", KEYS[1], from == "" and "-" or "(" .. from, "+", "COUNT", count)
else
  page = redis.call("XREVRANGE", KEYS[1], from == "" and "+" or "(" .. from, "-", "COUNT", count)
end

-- The page's events, their fields read once.
local events = {}
for i, event in ipairs(page) do
  local fields = event[2]
  local e = { id = event[1], transfers = "[]" }
  for j = 1, #fields, 2 do
    local name = fields[j]
    if name == "entries" then e.entries = fields[j + 1]
    elseif name == "entryRefs" then e.refs = fields[j + 1]
    elseif name == "transfers" then e.transfers = fields[j + 1] end
  end
  events[i] = e
end

-- "entries": every referenced entry is read with ONE LRANGE per account on the page (from its
-- lowest to its highest referenced seq), not one LINDEX per entry: a page of 1,000 events
-- references ~2,500 entries in a few hundred accounts, and each call out of Lua costs more than
-- the few extra elements of a range.
local lists = {}
if detail == "entries" then
  for _, e in ipairs(events) do
    if not e.entries then
      e.decoded = e.refs and cjson.decode(e.refs) or {}
      for _, ref in ipairs(e.decoded) do
        local account, seq = ref[1], ref[2]
        local list = lists[account]
        if not list then
          list = { lowest = seq, highest = seq }
          lists[account] = list
        elseif seq < list.lowest then list.lowest = seq
        elseif seq > list.highest then list.highest = seq end
      end
    end
  end
  for account, list in pairs(lists) do
    list.trimmedThrough = tonumber(redis.call("HGET", KEYS[2], "e:" .. account) or "0")
    -- List index of seq s: s - 1 - trimmedThrough. A range partly outside the list returns what
    -- is inside it; the references that fall outside are reported below.
    local first = math.max(list.lowest - 1 - list.trimmedThrough, 0)
    local last = list.highest - 1 - list.trimmedThrough
    list.first = first
    list.items = last >= first and redis.call("LRANGE", prefix .. "ledger:" .. account, first, last) or {}
  end
end

local reply = { redis.call("HGET", KEYS[2], "cursor") or "0" }
for _, e in ipairs(events) do
  local entries = e.entries
  if not entries and detail == "outline" then
    entries = e.refs or "[]"
  elseif not entries then
    local items = {}
    for _, ref in ipairs(e.decoded) do
      local account, seq = ref[1], ref[2]
      local list = lists[account]
      local index = seq - 1 - list.trimmedThrough
      local entry = index >= list.first and list.items[index - list.first + 1] or nil
      if not entry then
        return redis.error_reply("ERR events.lua: event " .. e.id .. " references entry " .. string.format("%d", seq) ..
          " of " .. account .. ", which Redis does not hold (trimmed through " .. string.format("%d", list.trimmedThrough) ..
          ", " .. redis.call("LLEN", prefix .. "ledger:" .. account) .. " in the list)")
      end
      items[#items + 1] = entry
    end
    entries = "[" .. table.concat(items, ",") .. "]"
  end
  reply[#reply + 1] = e.id
  reply[#reply + 1] = entries
  reply[#reply + 1] = e.transfers
end
return reply
