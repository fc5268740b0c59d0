--[[
  trim.lua: removes from Redis what the history store (PostgreSQL) has
  committed, checking each part against what the archiver was told the
  archive holds. Key layout: src/store/redis/redisKeys.ts.

  The events stream is trimmed through `through` and the trim cursor moves
  there, but only from the cursor the caller read (compare-and-set: two
  trimmers never pop the same transfers twice). Per account, each part is
  checked before anything is written and skipped (reported) when it does not
  match, so a list is never cut on the strength of another chain:
    entries    pop ledger entries through seq S: the entry at S (after the
               entries trimmed before, P trimmed e:<account>) must have seq S
               and the archived checksum
    transfers  pop the given transfer ids from the left of the list: the
               list's trimmed count (P trimmed t:<account>) must be the base
               the caller saw, and the first n elements must be those ids,
               in that order

  Layout: scriptLayouts.ts (checked against this header by test/store/scriptHeaders.test.ts).
  KEYS
    1  trimmed     P trimmed: hash: cursor = last trimmed stream id; e:<account> = entries
                   trimmed through (seq); t:<account> = transfers trimmed (count)
    2  events      P events: stream
    then nAccounts x account(ledger, transfers)   P ledger:<account>, P transfers:<account>, in ARGV order
  ARGV
    1  cursor      the trim cursor the caller read ("0" = never trimmed)
    2  through     the last archived stream id to trim
    3  keepFrom    the first stream id to keep (through + 1), for XTRIM MINID
    4  nAccounts
    then nAccounts x account(account, entriesSeq, entriesChecksum, transfersBase, nTransferIds, ...transferId)
                   entriesSeq "0" = none; nTransferIds transfer ids follow

  Returns (first element is the code)
    {"TRIMMED", entriesRemoved, transfersRemoved, eventsRemoved, skip...}
         done; each skip is "<account> entries|transfers <why>" (nothing of
         that part was written)
    {"CURSOR_MOVED", cursor}  the trim cursor is not ARGV[1]: nothing written
  A malformed call (counts not matching KEYS/ARGV) is an error reply, before any write.
]]

local trimmed = KEYS[1]
local current = redis.call("HGET", trimmed, "cursor") or "0"
if current ~= ARGV[1] then
  return { "CURSOR_MOVED", current }
end

-- XTRIM and the cursor are written after the lists: their stream ids are checked before any write.
local function isStreamId(id) return string.match(id or "", "^%d+%-%d+$") ~= nil or string.match(id or "", "^%d+$") ~= nil end
if not isStreamId(ARGV[2]) or not isStreamId(ARGV[3]) then
  return redis.error_reply("ERR trim.lua: through (ARGV 2) and the first id to keep (ARGV 3) must be stream ids")
end

local nAccounts = tonumber(ARGV[4])
if #KEYS ~= 2 + 2 * nAccounts then
  return redis.error_reply("ERR trim.lua: expected " .. (2 + 2 * nAccounts) .. " keys, got " .. #KEYS)
end

-- Checks: decide every part before the first write.
local plans = {}
local skips = {}
local a = 5
for i = 1, nAccounts do
  local account = ARGV[a]
  local seq = tonumber(ARGV[a + 1])
  local checksum = ARGV[a + 2]
  local base = tonumber(ARGV[a + 3])
  local n = tonumber(ARGV[a + 4])
  if n == nil or seq == nil or base == nil or a + 4 + n > #ARGV then
    return redis.error_reply("ERR trim.lua: malformed arguments for account " .. tostring(account))
  end
  local ledger = KEYS[2 + 2 * i - 1]
  local transfers = KEYS[2 + 2 * i]
  local plan = { account = account, ledger = ledger, transfers = transfers, pop = 0, seq = seq, popTransfers = 0 }

  local trimmedThrough = tonumber(redis.call("HGET", trimmed, "e:" .. account) or "0")
  if seq > trimmedThrough then
    local k = seq - trimmedThrough
    local last = redis.call("LINDEX", ledger, k - 1)
    local ok, entry = pcall(cjson.decode, last or "")
    if not last or not ok or entry.seq ~= seq or entry.checksum ~= checksum then
      skips[#skips + 1] = account .. " entries the entry at seq " .. seq .. " in Redis is not the archived one"
    else
      plan.pop = k
    end
  end

  if n > 0 then
    local listBase = tonumber(redis.call("HGET", trimmed, "t:" .. account) or "0")
    local heads = redis.call("LRANGE", transfers, 0, n - 1)
    local matches = listBase == base and #heads == n
    for j = 1, n do
      if not matches then break end
      if not string.find(heads[j], '"transferId":"' .. ARGV[a + 4 + j] .. '"', 1, true) then matches = false end
    end
    if matches then
      plan.popTransfers = n
    else
      skips[#skips + 1] = account .. " transfers the list does not start with the archived transfers at index " .. base
    end
  end
  plans[#plans + 1] = plan
  a = a + 5 + n
end
if a ~= #ARGV + 1 then
  return redis.error_reply("ERR trim.lua: expected " .. (a - 1) .. " args, got " .. #ARGV)
end

-- Writes.
local entriesRemoved = 0
local transfersRemoved = 0
for _, plan in ipairs(plans) do
  if plan.pop > 0 then
    redis.call("LTRIM", plan.ledger, plan.pop, -1)
    redis.call("HSET", trimmed, "e:" .. plan.account, plan.seq)
    entriesRemoved = entriesRemoved + plan.pop
  end
  if plan.popTransfers > 0 then
    redis.call("LTRIM", plan.transfers, plan.popTransfers, -1)
    redis.call("HINCRBY", trimmed, "t:" .. plan.account, plan.popTransfers)
    transfersRemoved = transfersRemoved + plan.popTransfers
  end
end
local eventsRemoved = redis.call("XTRIM", KEYS[2], "MINID", ARGV[3])
redis.call("HSET", trimmed, "cursor", ARGV[2])
local reply = { "TRIMMED", tostring(entriesRemoved), tostring(transfersRemoved), tostring(eventsRemoved) }
for _, skip in ipairs(skips) do reply[#reply + 1] = skip end
return reply
