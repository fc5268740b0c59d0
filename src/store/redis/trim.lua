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
    transfers  mode "pop": pop the given transfers from the left of the list:
               the list's trimmed count (P trimmed t:<account>) must be the
               base the caller saw, and the first n elements must be those
               transfers, in that order (an element in full: its transferId;
               a reference: the ref the caller gives, or if it gives "", the
               transferId of the transfer it resolves to). Mode "keep" (an
               account the archive stopped for): nothing is popped.

  A transfer list element may reference an event ("<event id>#<position>",
  apply.lua with the stream uncapped) instead of holding the transfer. No
  element may be left referencing an event this call removes: in every list
  of the call with transfers given that is not popped (mode "keep", or "pop"
  skipped), and after the popped ones, each reference to an event through
  `through` is replaced by the transfer in full (LSET, the JSON from the
  event, byte for byte) before XTRIM, "materialised". The scan starts at
  P trimmed m:<account> (an absolute index: no element before it is a
  reference; written only when the scan moved it past the popped ones) and
  stops at the first reference to a later event (lists are in stream order),
  so each element is scanned once however long a stopped account's list
  grows. A reference the stream cannot resolve (hand-edited, or its event
  removed before) is left as it is and reported. The caller must give every
  account whose list references the events removed (the Archiver: every
  account of their transfers, stopped ones in mode "keep").

  Layout: scriptLayouts.ts (checked against this header by test/store/scriptHeaders.test.ts).
  KEYS
    1  trimmed     P trimmed: hash: cursor = last trimmed stream id; e:<account> = entries
                   trimmed through (seq); t:<account> = transfers trimmed (count);
                   m:<account> = index before which the list holds no reference (materialised)
    2  events      P events: stream
    then nAccounts x account(ledger, transfers)   P ledger:<account>, P transfers:<account>, in ARGV order
  ARGV
    1  cursor      the trim cursor the caller read ("0" = never trimmed)
    2  through     the last archived stream id to trim
    3  keepFrom    the first stream id to keep (through + 1), for XTRIM MINID
    4  nAccounts
    then nAccounts x account(account, entriesSeq, entriesChecksum, transfersBase, transfersMode, nTransfers, ...transferIdsThenRefs)
                   entriesSeq "0" = none; transfersMode "pop" or "keep"; nTransfers transfer ids
                   follow, then as many refs "<event id>#<position>" ("" = not given)

  Returns (first element is the code)
    {"TRIMMED", entriesRemoved, transfersRemoved, eventsRemoved, skip...}
         done; each skip is "<account> entries|transfers <why>" (nothing of
         that part was written, or an element was left as it was)
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

-- @include transferRefs.lua

-- Whether stream id a comes after b ("<ms>-<seq>"; "<ms>" alone is "<ms>-0").
local function streamIdParts(id)
  local ms, seq = string.match(id, "^(%d+)%-?(%d*)$")
  return tonumber(ms), tonumber(seq ~= "" and seq or "0")
end
local throughMs, throughSeq = streamIdParts(ARGV[2])
local function afterThrough(id)
  local ms, seq = streamIdParts(id)
  return ms > throughMs or (ms == throughMs and seq > throughSeq)
end

local SCAN_WINDOW = 32

-- Checks: decide every part before the first write.
local plans = {}
local skips = {}
local a = 5
for i = 1, nAccounts do
  local account = ARGV[a]
  local seq = tonumber(ARGV[a + 1])
  local checksum = ARGV[a + 2]
  local base = tonumber(ARGV[a + 3])
  local mode = ARGV[a + 4]
  local n = tonumber(ARGV[a + 5])
  if n == nil or seq == nil or base == nil or (mode ~= "pop" and mode ~= "keep") or a + 5 + 2 * n > #ARGV then
    return redis.error_reply("ERR trim.lua: malformed arguments for account " .. tostring(account))
  end
  local ledger = KEYS[2 + 2 * i - 1]
  local transfers = KEYS[2 + 2 * i]
  local plan = { account = account, ledger = ledger, transfers = transfers, pop = 0, seq = seq, popTransfers = 0, materialise = {} }

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
    if mode == "pop" then
      local heads = redis.call("LRANGE", transfers, 0, n - 1)
      local matches = listBase == base and #heads == n
      for j = 1, n do
        if not matches then break end
        local head, transferId, ref = heads[j], ARGV[a + 5 + j], ARGV[a + 5 + n + j]
        if string.byte(head, 1) ~= 123 and ref ~= "" then
          matches = head == ref
        else
          if string.byte(head, 1) ~= 123 then head = resolveTransferRef(head, KEYS[2]) or "" end
          matches = string.find(head, '"transferId":"' .. transferId .. '"', 1, true) ~= nil
        end
      end
      if matches then
        plan.popTransfers = n
      else
        skips[#skips + 1] = account .. " transfers the list does not start with the archived transfers at index " .. base
      end
    end

    -- Materialise what stays of the list and references an event removed here (see the header).
    local hint = tonumber(redis.call("HGET", trimmed, "m:" .. account) or "0")
    local from = math.max(listBase + plan.popTransfers, hint) -- absolute index
    local at = from - listBase -- list index, before any pop
    local done = false
    while not done do
      local window = redis.call("LRANGE", transfers, at, at + SCAN_WINDOW - 1)
      local scanned = #window
      for w = 1, #window do
        local element = window[w]
        if string.byte(element, 1) ~= 123 then -- not "{": a reference
          local id = string.match(element, "^(%d+%-%d+)#")
          if id and afterThrough(id) then
            scanned = w - 1
            done = true
            break
          end
          local transfer, why = resolveTransferRef(element, KEYS[2])
          if transfer then
            plan.materialise[#plan.materialise + 1] = { at + w - 1, transfer }
          else
            skips[#skips + 1] = account .. " transfers element " .. string.format("%d", listBase + at + w - 1) .. " (" ..
              element .. ") " .. why .. ": left as it is"
          end
        end
      end
      at = at + scanned
      if #window < SCAN_WINDOW then done = true end
    end
    -- The next scan starts here (absolute): written only when it is past what the pop leaves.
    if listBase + at > listBase + plan.popTransfers and listBase + at ~= hint then plan.scannedTo = listBase + at end
  end
  plans[#plans + 1] = plan
  a = a + 6 + 2 * n
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
  -- List indexes as read, before the pop below.
  for _, materialised in ipairs(plan.materialise) do
    redis.call("LSET", plan.transfers, materialised[1], materialised[2])
  end
  if plan.scannedTo then redis.call("HSET", trimmed, "m:" .. plan.account, plan.scannedTo) end
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
