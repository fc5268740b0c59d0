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

-- Per account on this page: where its list starts (trimmed through) and its length.
local lists = {}
local function listOf(account)
  local list = lists[account]
  if not list then
    local key = prefix .. "ledger:" .. account
    list = {
      key = key,
      trimmedThrough = tonumber(redis.call("HGET", KEYS[2], "e:" .. account) or "0"),
      length = redis.call("LLEN", key)
    }
    lists[account] = list
  end
  return list
end

local reply = { redis.call("HGET", KEYS[2], "cursor") or "0" }
for _, event in ipairs(page) do
  local fields = event[2]
  local entries, refs, transfers = nil, nil, "[]"
  for i = 1, #fields, 2 do
    local name = fields[i]
    if name == "entries" then entries = fields[i + 1]
    elseif name == "entryRefs" then refs = fields[i + 1]
    elseif name == "transfers" then transfers = fields[i + 1] end
  end
  if not entries and detail == "outline" then
    entries = refs or "[]"
  elseif not entries then
    local items = {}
    for _, ref in ipairs(refs and cjson.decode(refs) or {}) do
      local account, seq = ref[1], ref[2]
      local list = listOf(account)
      -- Counted from the tail (a negative index): recent entries are near it, however long the list.
      local fromTail = seq - list.trimmedThrough - 1 - list.length
      local entry = fromTail < 0 and redis.call("LINDEX", list.key, fromTail) or false
      if not entry or fromTail < -list.length then
        return redis.error_reply("ERR events.lua: event " .. event[1] .. " references entry " .. string.format("%d", seq) ..
          " of " .. account .. ", which Redis does not hold (trimmed through " .. string.format("%d", list.trimmedThrough) ..
          ", " .. list.length .. " in the list)")
      end
      items[#items + 1] = entry
    end
    entries = "[" .. table.concat(items, ",") .. "]"
  end
  reply[#reply + 1] = event[1]
  reply[#reply + 1] = entries
  reply[#reply + 1] = transfers
end
return reply
