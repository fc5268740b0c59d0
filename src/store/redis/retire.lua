--[[
  retire.lua: removes from Redis, for good, closed objects that the history
  store (PostgreSQL) holds whole and whose retention has passed: a settled or
  cancelled pot (its object or marker, its P trimmed e:/t:/m: fields, its P closed
  member) or a closed reservation (its object). Reads then answer from
  PostgreSQL (TieredStore). Key layout: src/store/redis/redisKeys.ts.

  Only the archiver holding the lease with the caller's fencing token may
  retire (a paused archiver whose lease passed to another writes nothing).
  Each object is compare-and-set: it is removed only while it is still at the
  version the archiver compared with PostgreSQL, is closed (a pot SETTLED or
  CANCELLED and empty, a reservation no longer HELD), its ledger and transfer
  lists are empty (everything trimmed), and the counts trimmed from them
  (P trimmed e:<key>, t:<key>) are those PostgreSQL holds; a pot's head seq is
  the entries trimmed. Otherwise it is left as it is and its reason reported.
  Every object is decided before the first write. Empty lists do not exist in
  Redis, so there are no list keys to delete.

  Layout: scriptLayouts.ts (checked against this header by test/store/scriptHeaders.test.ts).
  KEYS
    1  lease       P archiver:lease: string "<owner> <token>"
    2  trimmed     P trimmed: hash: e:<account> = entries trimmed through (seq), t:<account> = transfers
                   trimmed, m:<account> = where its list's references end (trim.lua)
    3  closed      P closed: zset of closed accounts by closedAt
    then nObjects x object(object, ledger, transfers)   P obj:<key>, P ledger:<key>, P transfers:<key>, in ARGV order
  ARGV
    1  holder      "<owner> <token>": the lease as the caller holds it
    2  nObjects
    then nObjects x object(key, version, entriesTrimmed, transfersTrimmed)
                   key: the object key (a pot's is its account ref); version: decimal, the one compared
                   with PostgreSQL; entriesTrimmed, transfersTrimmed: decimals, what PostgreSQL holds
                   (0 and 0 for a reservation)

  Returns (first element is the code)
    {"RETIRED", outcome...}  one outcome per object, in order: "" = removed, else why it was
         left (nothing of it was written)
    {"NOT_LEASED", current}  the lease is not ARGV 1 (current: its value, "" when free): nothing written
  A malformed call (counts not matching KEYS/ARGV, a number that is not a decimal) is an error
  reply, before any write.
]]

local n = tonumber(ARGV[2])
if n == nil or #KEYS ~= 3 + 3 * n or #ARGV ~= 2 + 4 * n then
  return redis.error_reply("ERR retire.lua: expected 3 + 3 x nObjects keys and 2 + 4 x nObjects args, got " .. #KEYS .. " keys and " .. #ARGV .. " args")
end
for i = 1, n do
  local base = 2 + 4 * (i - 1)
  if not string.match(ARGV[base + 2], "^[1-9]%d*$") or not string.match(ARGV[base + 3], "^%d+$") or not string.match(ARGV[base + 4], "^%d+$") then
    return redis.error_reply("ERR retire.lua: object " .. i .. ": version must be a positive decimal, the trimmed counts decimals")
  end
end

local lease = redis.call("GET", KEYS[1]) or ""
if lease ~= ARGV[1] then
  return { "NOT_LEASED", lease }
end

-- Checks: every object, before the first write.
local outcomes = {}
for i = 1, n do
  local base = 2 + 4 * (i - 1)
  local key, version = ARGV[base + 1], ARGV[base + 2]
  local entriesTrimmed, transfersTrimmed = tonumber(ARGV[base + 3]), tonumber(ARGV[base + 4])
  local object, ledger, transfers = KEYS[3 + 3 * (i - 1) + 1], KEYS[3 + 3 * (i - 1) + 2], KEYS[3 + 3 * (i - 1) + 3]
  local stored = redis.call("HMGET", object, "v", "d")
  local why = ""
  if not stored[1] then
    why = "absent"
  elseif stored[1] ~= version then
    why = "at version " .. stored[1] .. ", not " .. version
  else
    local ok, state = pcall(cjson.decode, stored[2] or "")
    if not ok or type(state) ~= "table" then
      why = "not an object"
    elseif state.kind == "pot" then
      if state.status ~= "SETTLED" and state.status ~= "CANCELLED" then
        why = "not a closed pot"
      elseif state.balance ~= 0 then
        why = "a closed pot holding " .. tostring(state.balance)
      elseif state.seq ~= entriesTrimmed then
        why = "its head is seq " .. tostring(state.seq) .. ", not the archived " .. entriesTrimmed
      end
    elseif state.kind == "reservation" then
      if state.status == "HELD" then why = "a held reservation" end
    else
      why = "not a pot or reservation"
    end
  end
  if why == "" then
    local e = tonumber(redis.call("HGET", KEYS[2], "e:" .. key) or "0")
    local t = tonumber(redis.call("HGET", KEYS[2], "t:" .. key) or "0")
    if redis.call("LLEN", ledger) ~= 0 or redis.call("LLEN", transfers) ~= 0 then
      why = "its ledger or transfer list is not empty"
    elseif e ~= entriesTrimmed or t ~= transfersTrimmed then
      why = "trimmed e:" .. e .. " t:" .. t .. " in Redis, e:" .. entriesTrimmed .. " t:" .. transfersTrimmed .. " archived"
    end
  end
  outcomes[i] = why
end

-- Writes.
for i = 1, n do
  if outcomes[i] == "" then
    local key = ARGV[2 + 4 * (i - 1) + 1]
    redis.call("DEL", KEYS[3 + 3 * (i - 1) + 1])
    redis.call("HDEL", KEYS[2], "e:" .. key, "t:" .. key, "m:" .. key)
    redis.call("ZREM", KEYS[3], key)
  end
end
local reply = { "RETIRED" }
for i = 1, n do reply[#reply + 1] = outcomes[i] end
return reply
