--[[
  transferRefs.lua: not a script of its own; spliced into transfers.lua and trim.lua where they say
  `-- @include transferRefs.lua` (readLuaScript, luaScripts.ts), so that both resolve a transfer
  list's references to the stream the same way.

  A transfer list element is a transfer in full (JSON, "{...}") or a reference to the transfer's
  place in the events stream, "<event id>#<position>" (apply.lua with the stream uncapped).
  resolveTransferRef(ref, eventsKey) answers the transfer's JSON exactly as the event stores it, or
  nil and why not; it reads each event once per script run (one XRANGE per distinct event).
]]

-- The objects of a JSON array, each as the exact text stored (cjson would write numbers back with
-- 14 significant digits). Strings are skipped whole, escapes included.
local function splitObjects(json)
  local items, depth, start, i = {}, 0, 1, 1
  while true do
    local at = string.find(json, '[{}"]', i)
    if not at then return items end
    local c = string.byte(json, at)
    if c == 34 then
      local j = at + 1
      while true do
        local q = string.find(json, '["\\]', j)
        if not q then return nil end
        if string.byte(json, q) == 92 then
          j = q + 2
        else
          i = q + 1
          break
        end
      end
    else
      if c == 123 then
        if depth == 0 then start = at end
        depth = depth + 1
      else
        depth = depth - 1
        if depth == 0 then items[#items + 1] = string.sub(json, start, at) end
      end
      i = at + 1
    end
  end
end

-- The transfer a reference names, or nil and why not. One XRANGE per distinct event.
local eventTransfers = {}
local function resolveTransferRef(ref, eventsKey)
  local id, position = string.match(ref, "^(%d+%-%d+)#(%d+)$")
  if not id then return nil, "is neither a transfer nor a reference <event id>#<position>" end
  local items = eventTransfers[id]
  if items == nil then
    items = false
    local found = redis.call("XRANGE", eventsKey, id, id)[1]
    if found then
      for f = 1, #found[2], 2 do
        if found[2][f] == "transfers" then items = splitObjects(found[2][f + 1]) or false end
      end
    end
    eventTransfers[id] = items
  end
  if not items then return nil, "references event " .. id .. ", which the stream does not hold" end
  local transfer = items[tonumber(position) + 1]
  if not transfer then return nil, "references transfer " .. position .. " of event " .. id .. ", which has " .. #items end
  return transfer
end

