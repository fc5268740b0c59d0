--[[
  apply.lua: the store's one write, an atomic compare-and-set of one Plan.

  Redis does not roll back a script that fails halfway, so every check runs
  before the first write: idempotency key, then every expected version, then
  system account overflow. Key layout: src/store/redis/redisKeys.ts.

  Numbers arrive as decimal strings and every object, entry and transfer as a
  ready-made JSON string that is stored verbatim: cjson and tostring keep only
  14 significant digits, so the script never encodes a number itself.
  Arguments are built from scriptLayouts.ts; results are read by scriptResults.ts.

  Layout (written once in scriptLayouts.ts, checked against this header by
  test/store/scriptHeaders.test.ts): `<position>  <name>` is one string at a
  fixed position; `then <count> x <name>(<fields>)` is <count> items of those
  fields, <count> being the ARGV of that name (for `mode`: one item unless it
  is "0").

  KEYS (every key the script touches)
    1  system       P system: hash of system balances
    2  stats        P stats: hash of counters
    3  expiry       P expiry: zset of reservation deadlines
    4  accounts     P accounts: zset index of chained accounts
    5  events       P events: stream
    6  closed       P closed: zset index of closed accounts, by closedAt
    then mode       x idempotency(key)          P idem:<key> (see readIdempotency)
    then nExpected  x expected(key)             P obj:<key> of each expected object, in plan order
    then nWrites    x write(key)                P obj:<key> of each written object, in plan order
    then nEntries   x entry(ledger)             P ledger:<accountId> of each entry
    then nTransfers x transfer(fromList, toList) P transfers:<from>, P transfers:<to>

  ARGV
    1  mode         "0": no idempotency key; "1": key, record written as a hash; "2": key, compact string record
    2  fingerprint  request fingerprint (no "|")
    3  response     response JSON (stored with the key, returned on replays)
    4  ttlMs        idempotency TTL in ms
    5  eventsMaxLen events stream cap (MAXLEN ~)
    6  deadlineMs   Unix ms by the Redis clock ("0" = none): the caller stops waiting
                    then, so a script that only gets to run later (Redis was frozen, the
                    command sat in a buffer) writes nothing instead of landing unacknowledged
    7  nExpected
    8  nWrites
    9  nEntries
    10 nTransfers
    11 nSystem
    12 nStats
    13 nExpiryRemove
    14 nExpiryAdd
    15 nNewAccounts
    16 nClosedAccounts
    then nExpected       x expected(version)          "0" = the key must not exist
    then nWrites         x write(version, json)       new version and object JSON
    then nEntries        x entry(json)                also joined into the event field `entries`
    then nTransfers      x transfer(json)             also joined into the event field `transfers`
    then nSystem         x system(account, delta)     account name mint|burn|rake, signed delta
    then nStats          x stat(name, delta)          signed delta
    then nExpiryRemove   x expiryRemove(reservationId)
    then nExpiryAdd      x expiryAdd(reservationId, expiresAt)
    then nNewAccounts    x newAccount(account)
    then nClosedAccounts x closedAccount(account, closedAt)  moved from P accounts to P closed

  Returns (first element is the code)
    {"APPLIED"}                             everything written
    {"REPLAYED", response}                  same key and fingerprint: nothing written
    {"KEY_REUSED"}                          same key, other fingerprint: nothing written
    {"CONFLICT", v1, d1, v2, d2, ...}       a version differed: nothing written; the
                                            current version and JSON of EVERY expected key
                                            in plan order ("0" and "" when absent)
    {"OVERFLOW", account}                   a system balance would leave +-(2^53-1): nothing written
    {"LATE"}                                the deadline (ARGV 6) had passed: nothing written
  A malformed call (counts not matching KEYS/ARGV) is an error reply, also before any write.
]]

local MAX_SAFE = 9007199254740991

-- An idempotency record is either a hash of f (fingerprint) and r (response), or, compact
-- (IDEMPOTENCY_RECORDS=compact), one string "<first 32 characters of the fingerprint>|<response>"
-- (fingerprints never hold "|"), about 40 % less memory. Both are read; fingerprints compare on
-- their first 32 characters. Keep in step with load.lua.
local function readIdempotency(key)
  -- Try the format this instance writes first: one call when it matches (the common case); the
  -- other format only on WRONGTYPE (a record an instance of the other setting wrote).
  if ARGV[1] == "1" then
    local record = redis.pcall("HMGET", key, "f", "r")
    if not (type(record) == "table" and record.err) then
      if not record[1] then return nil end
      return record[1], record[2] or ""
    end
  end
  local value = redis.pcall("GET", key)
  if type(value) == "table" and value.err then
    local record = redis.call("HMGET", key, "f", "r")
    if not record[1] then return nil end
    return record[1], record[2] or ""
  end
  if not value then return nil end
  local bar = string.find(value, "|", 1, true)
  return string.sub(value, 1, bar - 1), string.sub(value, bar + 1)
end

local hasIdem = ARGV[1] ~= "0"
local nExpected = tonumber(ARGV[7])
local nWrites = tonumber(ARGV[8])
local nEntries = tonumber(ARGV[9])
local nTransfers = tonumber(ARGV[10])
local nSystem = tonumber(ARGV[11])
local nStats = tonumber(ARGV[12])
local nExpiryRemove = tonumber(ARGV[13])
local nExpiryAdd = tonumber(ARGV[14])
local nNewAccounts = tonumber(ARGV[15])
local nClosedAccounts = tonumber(ARGV[16])

-- The TTL and the stream cap are only used by the last writes: check them before the first one.
if not tonumber(ARGV[4]) or tonumber(ARGV[4]) < 1 or not tonumber(ARGV[5]) then
  return redis.error_reply("ERR apply.lua: TTL (ARGV 4) and stream cap (ARGV 5) must be numbers")
end

local idemKey = hasIdem and KEYS[7] or nil
local kExpected = hasIdem and 7 or 6
local kWrites = kExpected + nExpected
local kEntries = kWrites + nWrites
local kTransfers = kEntries + nEntries
local keyCount = kTransfers + 2 * nTransfers

local aExpected = 16
local aWrites = aExpected + nExpected
local aEntries = aWrites + 2 * nWrites
local aTransfers = aEntries + nEntries
local aSystem = aTransfers + nTransfers
local aStats = aSystem + 2 * nSystem
local aExpiryRemove = aStats + 2 * nStats
local aExpiryAdd = aExpiryRemove + nExpiryRemove
local aNewAccounts = aExpiryAdd + 2 * nExpiryAdd
local aClosedAccounts = aNewAccounts + nNewAccounts
local argCount = aClosedAccounts + 2 * nClosedAccounts

if #KEYS ~= keyCount or #ARGV ~= argCount then
  return redis.error_reply("ERR apply.lua: expected " .. keyCount .. " keys and " .. argCount ..
    " args, got " .. #KEYS .. " and " .. #ARGV)
end

-- 0. the caller is still waiting for this answer
local deadline = tonumber(ARGV[6])
if deadline > 0 then
  local time = redis.call("TIME")
  if tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000) > deadline then
    return { "LATE" }
  end
end

-- 1. idempotency key (the record: "<fingerprint>|<response>"; see readIdempotency)
if hasIdem then
  local fingerprint, response = readIdempotency(idemKey)
  if fingerprint then
    if string.sub(fingerprint, 1, 32) == string.sub(ARGV[2], 1, 32) then
      return { "REPLAYED", response }
    end
    return { "KEY_REUSED" }
  end
end

-- 2. every expected version
local conflict = false
for i = 1, nExpected do
  local current = redis.call("HGET", KEYS[kExpected + i], "v")
  if tonumber(current or "0") ~= tonumber(ARGV[aExpected + i]) then
    conflict = true
    break
  end
end
if conflict then
  local reply = { "CONFLICT" }
  for i = 1, nExpected do
    local current = redis.call("HMGET", KEYS[kExpected + i], "v", "d")
    reply[#reply + 1] = current[1] or "0"
    reply[#reply + 1] = current[2] or ""
  end
  return reply
end

-- 3. system accounts stay within the safe integer range
for i = 0, nSystem - 1 do
  local account = ARGV[aSystem + 2 * i + 1]
  local balance = tonumber(redis.call("HGET", KEYS[1], account) or "0")
  local after = balance + tonumber(ARGV[aSystem + 2 * i + 2])
  if after > MAX_SAFE or after < -MAX_SAFE then
    return { "OVERFLOW", account }
  end
end

-- Writes. Nothing below may fail on well-formed input.
for i = 0, nWrites - 1 do
  redis.call("HSET", KEYS[kWrites + i + 1], "v", ARGV[aWrites + 2 * i + 1], "d", ARGV[aWrites + 2 * i + 2])
end
for i = 1, nEntries do
  redis.call("RPUSH", KEYS[kEntries + i], ARGV[aEntries + i])
end
for i = 0, nTransfers - 1 do
  local transfer = ARGV[aTransfers + i + 1]
  redis.call("RPUSH", KEYS[kTransfers + 2 * i + 1], transfer)
  redis.call("RPUSH", KEYS[kTransfers + 2 * i + 2], transfer)
end
for i = 0, nSystem - 1 do
  redis.call("HINCRBY", KEYS[1], ARGV[aSystem + 2 * i + 1], ARGV[aSystem + 2 * i + 2])
end
for i = 0, nStats - 1 do
  redis.call("HINCRBY", KEYS[2], ARGV[aStats + 2 * i + 1], ARGV[aStats + 2 * i + 2])
end
for i = 1, nExpiryRemove do
  redis.call("ZREM", KEYS[3], ARGV[aExpiryRemove + i])
end
for i = 0, nExpiryAdd - 1 do
  redis.call("ZADD", KEYS[3], ARGV[aExpiryAdd + 2 * i + 2], ARGV[aExpiryAdd + 2 * i + 1])
end
for i = 1, nNewAccounts do
  redis.call("ZADD", KEYS[4], 0, ARGV[aNewAccounts + i])
end
for i = 0, nClosedAccounts - 1 do
  local account = ARGV[aClosedAccounts + 2 * i + 1]
  redis.call("ZREM", KEYS[4], account)
  redis.call("ZADD", KEYS[6], ARGV[aClosedAccounts + 2 * i + 2], account)
end
if nEntries + nTransfers > 0 then
  -- The event's fields are this apply's entries and transfers as JSON arrays, joined here rather
  -- than sent a second time (they were a third of the arguments' bytes).
  local entries = "[" .. table.concat(ARGV, ",", aEntries + 1, aEntries + nEntries) .. "]"
  local transfers = "[" .. table.concat(ARGV, ",", aTransfers + 1, aTransfers + nTransfers) .. "]"
  redis.call("XADD", KEYS[5], "MAXLEN", "~", ARGV[5], "*", "entries", entries, "transfers", transfers)
end
if ARGV[1] == "2" then
  redis.call("SET", idemKey, string.sub(ARGV[2], 1, 32) .. "|" .. ARGV[3], "PX", ARGV[4])
elseif hasIdem then
  redis.call("HSET", idemKey, "f", ARGV[2], "r", ARGV[3])
  redis.call("PEXPIRE", idemKey, ARGV[4])
end
return { "APPLIED" }
