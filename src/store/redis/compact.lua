--[[
  compact.lua: replaces settled pots that the history store (PostgreSQL) has
  committed by their markers (PotState.archived: the pot with
  `contributions: []` and `archived: true`, same head), so that Redis keeps
  what must stay refused (a late contribution, a second settle, a second pot
  with the same id) without the contributions. Key layout:
  src/store/redis/redisKeys.ts.

  Each object is compare-and-set on its version: it is replaced only while it
  is still at the version the archiver read (and PostgreSQL committed), is a
  SETTLED pot not yet archived, and has the marker's head (table, hand, seq,
  checksum, balance, createdAt, closedAt); otherwise it is left whole and its
  reason reported. The version field is not written: the marker is the same
  version of the pot. Every object is decided before the first write.

  Layout: scriptLayouts.ts (checked against this header by test/store/scriptHeaders.test.ts).
  KEYS
    then nObjects x object(key)     P obj:<objectKey> of each pot, in ARGV order
  ARGV
    1  nObjects
    then nObjects x object(version, marker)
                   version: decimal, the one the archiver read; marker: the marker's JSON

  Returns (first element is the code)
    {"COMPACTED", outcome...}  one outcome per object, in order: "" = replaced by
         its marker, else why it was left whole (nothing of it was written)
  A malformed call (counts not matching KEYS/ARGV, a version that is not a
  positive decimal, a marker that is not an archived settled pot) is an error
  reply, before any write.
]]

local n = tonumber(ARGV[1])
if n == nil or #KEYS ~= n or #ARGV ~= 1 + 2 * n then
  return redis.error_reply("ERR compact.lua: expected nObjects keys and 1 + 2 x nObjects args, got " .. #KEYS .. " keys and " .. #ARGV .. " args")
end

-- Checks: the call first, then every object, before the first write.
local markers = {}
for i = 1, n do
  local version = ARGV[2 * i]
  local ok, marker = pcall(cjson.decode, ARGV[2 * i + 1])
  if not string.match(version, "^[1-9]%d*$") then
    return redis.error_reply("ERR compact.lua: the version of object " .. i .. " is not a positive decimal")
  end
  if not ok or type(marker) ~= "table" or marker.kind ~= "pot" or marker.status ~= "SETTLED" or marker.archived ~= true
    or type(marker.contributions) ~= "table" or next(marker.contributions) ~= nil then
    return redis.error_reply("ERR compact.lua: the marker of object " .. i .. " is not an archived settled pot with no contributions")
  end
  markers[i] = marker
end

local head = { "tableId", "handId", "seq", "checksum", "balance", "createdAt", "closedAt" }
local outcomes = {}
for i = 1, n do
  local stored = redis.call("HMGET", KEYS[i], "v", "d")
  local marker = markers[i]
  local why = ""
  if not stored[1] then
    why = "absent"
  elseif stored[1] ~= ARGV[2 * i] then
    why = "at version " .. stored[1] .. ", not " .. ARGV[2 * i]
  else
    local ok, pot = pcall(cjson.decode, stored[2] or "")
    if not ok or type(pot) ~= "table" or pot.kind ~= "pot" or pot.status ~= "SETTLED" then
      why = "not a settled pot"
    elseif pot.archived == true then
      why = "already a marker"
    else
      for _, field in ipairs(head) do
        if pot[field] ~= marker[field] then
          why = "its " .. field .. " is not the marker's"
          break
        end
      end
    end
  end
  outcomes[i] = why
end

-- Writes.
for i = 1, n do
  if outcomes[i] == "" then redis.call("HSET", KEYS[i], "d", ARGV[2 * i + 1]) end
end
local reply = { "COMPACTED" }
for i = 1, n do reply[#reply + 1] = outcomes[i] end
return reply
