--[[
  apply.lua: the store's one write, a batch of atomic compare-and-sets, one per Plan.

  One call carries nPlans plans (a single apply is a batch of one): the batcher
  (applyBatcher.ts) sends the applies that are ready in one turn of the event loop
  as one call, one round trip and one AOF write. Each plan keeps its own checks
  (deadline, idempotency key, expected versions, system account overflow) and its
  own reply; one plan's refusal never affects another. Plans run in order, so a
  plan sees the writes of the plans before it (two plans made against the same
  version: the second gets CONFLICT and the ledger plans it again).
  System balances and counters are the exception: summed over the batch and written
  once at its end (one HSET per system account, one HINCRBY per counter), since the
  batch reads them only through its own running sums.

  Redis does not roll back a script that fails halfway, so the WHOLE batch is
  validated (counts, and every number a write uses) before the first plan writes;
  each plan's checks then run before its own first write. Key layout:
  src/store/redis/redisKeys.ts.

  Numbers arrive as decimal strings and every object, entry and transfer as a
  ready-made JSON string that is stored verbatim: cjson and tostring keep only
  14 significant digits, so the script never encodes a number itself.
  Arguments are built from scriptLayouts.ts; results are read by scriptResults.ts.

  Layout (written once in scriptLayouts.ts, checked against this header by
  test/store/scriptHeaders.test.ts): `<position>  <name>` is one string at a
  fixed position; `then <count> x <name>(<fields>)` is <count> items of those
  fields, <count> being the ARGV of that name (for `mode`: one item unless it
  is "0"); `plan(Plan KEYS)` and `plan(Plan ARGV)` are one plan's keys and
  arguments as laid out under Plan KEYS and Plan ARGV, positions counted from
  the plan's first key and first argument.

  KEYS (every key the script touches)
    1  system       P system: hash of system balances
    2  stats        P stats: hash of counters
    3  expiry       P expiry: zset of reservation deadlines
    4  accounts     P accounts: zset index of chained accounts
    5  events       P events: stream
    6  closed       P closed: zset index of closed accounts, by closedAt
    then nPlans     x plan(Plan KEYS)

  ARGV
    1  nPlans       how many plans, at least 1
    2  eventsMaxLen events stream cap (MAXLEN ~), a whole number: the transfer lists hold each
                    transfer in full (the cap may drop any event); or "none": no cap, the stream keeps
                    every event until trim.lua removes it (HISTORY_ARCHIVE=on), and the transfer lists
                    hold references "<event id>#<position in its transfers>" into it instead
    then nPlans     x plan(Plan ARGV)

  Plan KEYS
    then mode       x idempotency(key)          P idem:<key> (see readIdempotency)
    then nExpected  x expected(key)             P obj:<key> of each expected object, in plan order
    then nWrites    x write(key)                P obj:<key> of each written object, in plan order
    then nEntries   x entry(ledger)             P ledger:<accountId> of each entry
    then nTransfers x transfer(fromList, toList) P transfers:<from>, P transfers:<to> (see ARGV 2)

  Plan ARGV
    1  mode         "0": no idempotency key; "1": key, record written as a hash; "2": key, compact string record
    2  fingerprint  request fingerprint: 64 hex digits; in mode "2" its first 128 bits as 22 base64url characters
    3  response     the response as stored with the key and returned on replays: JSON in mode "1",
                    the compact form starting with "~" in mode "2" (storedResponse.ts), "" in mode "0"
    4  ttlMs        idempotency TTL in ms
    5  deadlineMs   Unix ms by the Redis clock ("0" = none): the caller stops waiting
                    then, so a plan that only gets to run later (Redis was frozen, the
                    command sat in a buffer) writes nothing instead of landing unacknowledged
    6  nExpected
    7  nWrites
    8  nEntries
    9  nTransfers
    10 nSystem
    11 nStats
    12 nExpiryRemove
    13 nExpiryAdd
    14 nNewAccounts
    15 nClosedAccounts
    16 entryRefs    JSON [[accountRef, seq], ...] of the plan's entries in order: the event's
                    `entryRefs` field (the entries themselves are stored once, in the ledger lists)
    then nExpected       x expected(version)          "0" = the key must not exist
    then nWrites         x write(version, json)       new version and object JSON
    then nEntries        x entry(json)                RPUSHed to its account's ledger list
    then nTransfers      x transfer(json)             joined into the event field `transfers`; RPUSHed to
                                                      both lists (ARGV 2 a number) or referenced there
    then nSystem         x system(account, delta)     account name mint|burn|rake, signed delta
    then nStats          x stat(name, delta)          signed delta
    then nExpiryRemove   x expiryRemove(reservationId)
    then nExpiryAdd      x expiryAdd(reservationId, expiresAt)
    then nNewAccounts    x newAccount(account)
    then nClosedAccounts x closedAccount(account, closedAt)  moved from P accounts to P closed

  Returns one reply per plan, in plan order; each reply's first element is its code:
    {"APPLIED"}                             everything written
    {"REPLAYED", response}                  same key and fingerprint: nothing written
    {"KEY_REUSED"}                          same key, other fingerprint: nothing written
    {"CONFLICT", v1, d1, v2, d2, ...}       a version differed: nothing written; the
                                            current version and JSON of EVERY expected key
                                            in plan order ("0" and "" when absent)
    {"OVERFLOW", account}                   a system balance would leave +-(2^53-1): nothing written
    {"LATE"}                                the plan's deadline (Plan ARGV 5) had passed: nothing written
  A malformed call (counts not matching KEYS/ARGV, a number that is not one, in
  any plan) is an error reply, before any plan writes anything.
]]

local MAX_SAFE = 9007199254740991
local ARGC = #ARGV

-- An idempotency record is either a hash of f (fingerprint, 64 hex digits) and r (response), or,
-- compact (IDEMPOTENCY_RECORDS=compact, the default), one string: the fingerprint's first 128 bits
-- as 22 base64url characters, then the response in its compact form, which begins with "~"
-- (storedResponse.ts). Compact records of earlier versions hold 32 hex digits, "|" and JSON.
-- Every format is read; fingerprints compare on their first 128 bits. Keep in step with load.lua.
local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
-- Built on first use only: every call runs this file from the top, and records of another form
-- are rare (profile: scripts/profile-apply-lua.ts).
local b64Value = nil

-- The first 32 hex digits of a 22-character base64url fingerprint; "" if it is not one (a record
-- this service did not write: it matches nothing, rather than fail halfway through a batch).
local function b64ToHex32(fingerprint)
  if string.len(fingerprint) ~= 22 then return "" end
  if b64Value == nil then
    b64Value = {}
    for i = 1, 64 do b64Value[string.byte(B64, i)] = i - 1 end
  end
  local hex = {}
  for i = 1, 21, 2 do
    local high, low = b64Value[string.byte(fingerprint, i)], b64Value[string.byte(fingerprint, i + 1)]
    if not high or not low then return "" end
    hex[#hex + 1] = string.format("%03x", high * 64 + low)
  end
  return string.sub(table.concat(hex), 1, 32)
end

-- A record's fingerprint and response, and whether that fingerprint is base64url ("b64") or hex.
local function parseCompact(value)
  if string.byte(value, 23) == 126 then return string.sub(value, 1, 22), string.sub(value, 23), "b64" end -- "~"
  if string.len(value) > 32 and string.byte(value, 33) == 124 then -- "|": earlier versions
    return string.sub(value, 1, 32), string.sub(value, 34), "hex"
  end
  return value, "", "hex"
end

local function readIdempotency(key, mode)
  -- Try the format this instance writes first: one call when it matches (the common case); the
  -- other format only on WRONGTYPE (a record an instance of the other setting wrote).
  if mode == "1" then
    local record = redis.pcall("HMGET", key, "f", "r")
    if not (type(record) == "table" and record.err) then
      if not record[1] then return nil end
      return record[1], record[2] or "", "hex"
    end
  end
  local value = redis.pcall("GET", key)
  if type(value) == "table" and value.err then
    local record = redis.call("HMGET", key, "f", "r")
    if not record[1] then return nil end
    return record[1], record[2] or "", "hex"
  end
  if not value then return nil end
  return parseCompact(value)
end

-- Whether a record's fingerprint is the plan's: compared as sent when both are base64url (the
-- common case), else as their first 32 hex digits.
local function sameFingerprint(recorded, recordedForm, plan)
  if recordedForm == "b64" and plan.mode == "2" then return recorded == plan.fingerprint end
  local theirs = recordedForm == "b64" and b64ToHex32(recorded) or string.sub(recorded, 1, 32)
  local ours = plan.mode == "2" and b64ToHex32(plan.fingerprint) or string.sub(plan.fingerprint, 1, 32)
  return theirs ~= "" and theirs == ours
end

local function malformed(why)
  return redis.error_reply("ERR apply.lua: " .. why)
end

-- The validation runs over every argument of the batch before its first write, so it is kept
-- cheap: string.find (string.match would make a new string of each match) through a local.
local find = string.find

-- A non-negative or signed integer as the writes pass it on (HINCRBY, ZADD, PX, MAXLEN).
local function isCount(s)
  return s ~= nil and #s <= 15 and find(s, "^%d+$") ~= nil
end
-- Within +-(2^53-1), so that sums of them in Lua's doubles stay exact.
local function isInteger(s)
  if s == nil or #s > 17 or find(s, "^%-?%d+$") == nil then return false end
  local n = tonumber(s)
  return n <= MAX_SAFE and n >= -MAX_SAFE
end

-- Every plan's offsets into KEYS and ARGV, read from its counts; nothing is written yet.
local nPlans = tonumber(ARGV[1])
if not isCount(ARGV[1]) or nPlans < 1 then return malformed("nPlans (ARGV 1) must be at least 1") end
-- The cap may be any safe integer (isCount's 15-digit bound is for counts of arguments), or "none".
if ARGV[2] ~= "none" and (not isInteger(ARGV[2]) or tonumber(ARGV[2]) < 0) then
  return malformed("the stream cap (ARGV 2) must be a whole number >= 0 or none")
end
local eventsMaxLen = ARGV[2]
-- Uncapped, the stream keeps every event until the archiver trims it together with the lists
-- (trim.lua): only then may a list refer to an event instead of holding the transfer a second time.
local listsHoldRefs = eventsMaxLen == "none"

local plans = {}
local k = 6 -- keys before this plan's first
local a = 2 -- arguments before this plan's first
for p = 1, nPlans do
  if a + 16 > ARGC then return malformed("plan " .. p .. ": its 16 fixed arguments run past ARGV") end
  for i = 6, 15 do
    if not isCount(ARGV[a + i]) then return malformed("plan " .. p .. ": count (plan ARGV " .. i .. ") is not a number") end
  end
  local mode = ARGV[a + 1]
  if mode ~= "0" and mode ~= "1" and mode ~= "2" then return malformed("plan " .. p .. ": mode must be 0, 1 or 2") end
  -- A compact record is read back by where its response starts: 22 characters of fingerprint, then "~".
  if mode == "2" and (string.len(ARGV[a + 2]) ~= 22 or string.byte(ARGV[a + 3], 1) ~= 126) then
    return malformed("plan " .. p .. ": a compact record needs a 22-character fingerprint and a response starting with ~")
  end
  -- The TTL is only used by the plan's last write: checked before the batch's first one.
  if not isCount(ARGV[a + 4]) or tonumber(ARGV[a + 4]) < 1 then
    return malformed("plan " .. p .. ": TTL (plan ARGV 4) must be a number of at least 1")
  end
  if not isCount(ARGV[a + 5]) then return malformed("plan " .. p .. ": deadline (plan ARGV 5) must be a number") end
  local nExpected, nWrites, nEntries = tonumber(ARGV[a + 6]), tonumber(ARGV[a + 7]), tonumber(ARGV[a + 8])
  local nTransfers, nSystem, nStats = tonumber(ARGV[a + 9]), tonumber(ARGV[a + 10]), tonumber(ARGV[a + 11])
  local nExpiryRemove, nExpiryAdd = tonumber(ARGV[a + 12]), tonumber(ARGV[a + 13])
  local nNewAccounts, nClosedAccounts = tonumber(ARGV[a + 14]), tonumber(ARGV[a + 15])
  local kExpected = mode ~= "0" and k + 1 or k
  local kWrites = kExpected + nExpected
  local kEntries = kWrites + nWrites
  local kTransfers = kEntries + nEntries
  local aExpected = a + 16
  local aWrites = aExpected + nExpected
  local aEntries = aWrites + 2 * nWrites
  local aTransfers = aEntries + nEntries
  local aSystem = aTransfers + nTransfers
  local aStats = aSystem + 2 * nSystem
  local aExpiryRemove = aStats + 2 * nStats
  local aExpiryAdd = aExpiryRemove + nExpiryRemove
  local aNewAccounts = aExpiryAdd + 2 * nExpiryAdd
  local aClosedAccounts = aNewAccounts + nNewAccounts
  -- One constructor with every field: the table is sized once (adding fields one by one after a
  -- smaller constructor rehashed it twice per plan).
  local plan = {
    mode = mode,
    fingerprint = ARGV[a + 2],
    response = ARGV[a + 3],
    ttlMs = ARGV[a + 4],
    deadline = tonumber(ARGV[a + 5]),
    nExpected = nExpected,
    nWrites = nWrites,
    nEntries = nEntries,
    nTransfers = nTransfers,
    nSystem = nSystem,
    nStats = nStats,
    nExpiryRemove = nExpiryRemove,
    nExpiryAdd = nExpiryAdd,
    nNewAccounts = nNewAccounts,
    nClosedAccounts = nClosedAccounts,
    entryRefs = ARGV[a + 16],
    idemKey = mode ~= "0" and KEYS[k + 1] or nil,
    kExpected = kExpected,
    kWrites = kWrites,
    kEntries = kEntries,
    kTransfers = kTransfers,
    aExpected = aExpected,
    aWrites = aWrites,
    aEntries = aEntries,
    aTransfers = aTransfers,
    aSystem = aSystem,
    aStats = aStats,
    aExpiryRemove = aExpiryRemove,
    aExpiryAdd = aExpiryAdd,
    aNewAccounts = aNewAccounts,
    aClosedAccounts = aClosedAccounts
  }
  k = kTransfers + 2 * nTransfers
  a = aClosedAccounts + 2 * nClosedAccounts
  if k > #KEYS or a > ARGC then
    return malformed("plan " .. p .. ": its counts run past KEYS or ARGV (" .. k .. " of " .. #KEYS .. " keys, " ..
      a .. " of " .. ARGC .. " args)")
  end

  -- Every number a write of this plan passes to Redis: one that Redis refuses would stop the
  -- batch after the plans before it wrote.
  for i = 0, nWrites - 1 do
    if not isCount(ARGV[aWrites + 2 * i + 1]) then return malformed("plan " .. p .. ": a write's version is not a number") end
  end
  for i = 0, nSystem - 1 do
    local account = ARGV[aSystem + 2 * i + 1]
    if account ~= "mint" and account ~= "burn" and account ~= "rake" then
      return malformed("plan " .. p .. ": system account must be mint, burn or rake")
    end
    if not isInteger(ARGV[aSystem + 2 * i + 2]) then return malformed("plan " .. p .. ": a system delta is not an integer") end
  end
  for i = 0, nStats - 1 do
    if not isInteger(ARGV[aStats + 2 * i + 2]) then return malformed("plan " .. p .. ": a stat delta is not an integer") end
  end
  for i = 0, nExpiryAdd - 1 do
    if not isInteger(ARGV[aExpiryAdd + 2 * i + 2]) then return malformed("plan " .. p .. ": an expiresAt is not an integer") end
  end
  for i = 0, nClosedAccounts - 1 do
    if not isInteger(ARGV[aClosedAccounts + 2 * i + 2]) then return malformed("plan " .. p .. ": a closedAt is not an integer") end
  end
  plans[p] = plan
end
if k ~= #KEYS or a ~= ARGC then
  return malformed("expected " .. k .. " keys and " .. a .. " args, got " .. #KEYS .. " and " .. ARGC)
end

-- TIME once: every plan's deadline is compared with the moment the batch started to run.
local now = nil
for p = 1, nPlans do
  if plans[p].deadline > 0 then
    local time = redis.call("TIME")
    now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
    break
  end
end

-- System balances and counters are written once per batch, after its last plan (one HSET per
-- system account and one HINCRBY per counter instead of one per plan): nothing in the script
-- reads a counter, and system balances are read through `systemBalance`, which sees the deltas of
-- the plans before. Balances stay exact: every value is an integer within +-(2^53-1) (the overflow
-- check), and so is every sum on the way. A counter's pending delta is written out early before it
-- could leave that range.
local system = {}
local systemChanged = {}
local function systemBalance(account)
  local balance = system[account]
  if balance == nil then
    balance = tonumber(redis.call("HGET", KEYS[1], account) or "0")
    system[account] = balance
  end
  return balance
end
local statDelta = {}
local function addStat(name, delta)
  local pending = (statDelta[name] or 0) + delta
  if pending > MAX_SAFE or pending < -MAX_SAFE then
    redis.call("HINCRBY", KEYS[2], name, string.format("%d", statDelta[name]))
    pending = delta
  end
  statDelta[name] = pending
end

-- One plan: its checks, then (only if all pass) its writes. Nothing in here may fail on a
-- batch that passed the validation above.
local function applyPlan(plan)
  -- 0. the caller is still waiting for this answer
  if plan.deadline > 0 and now > plan.deadline then
    return { "LATE" }
  end

  -- 1. idempotency key (see readIdempotency)
  if plan.idemKey then
    local fingerprint, response, form = readIdempotency(plan.idemKey, plan.mode)
    if fingerprint then
      if sameFingerprint(fingerprint, form, plan) then
        return { "REPLAYED", response }
      end
      return { "KEY_REUSED" }
    end
  end

  -- 2. every expected version
  local kExpected, aExpected = plan.kExpected, plan.aExpected
  for i = 1, plan.nExpected do
    local current = redis.call("HGET", KEYS[kExpected + i], "v")
    if tonumber(current or "0") ~= tonumber(ARGV[aExpected + i]) then
      local reply = { "CONFLICT" }
      for j = 1, plan.nExpected do
        local state = redis.call("HMGET", KEYS[kExpected + j], "v", "d")
        reply[#reply + 1] = state[1] or "0"
        reply[#reply + 1] = state[2] or ""
      end
      return reply
    end
  end

  -- 3. system accounts stay within the safe integer range (after the earlier plans' deltas)
  local aSystem = plan.aSystem
  for i = 0, plan.nSystem - 1 do
    local account = ARGV[aSystem + 2 * i + 1]
    local after = systemBalance(account) + tonumber(ARGV[aSystem + 2 * i + 2])
    if after > MAX_SAFE or after < -MAX_SAFE then
      return { "OVERFLOW", account }
    end
  end

  -- Writes.
  local kWrites, aWrites = plan.kWrites, plan.aWrites
  for i = 0, plan.nWrites - 1 do
    redis.call("HSET", KEYS[kWrites + i + 1], "v", ARGV[aWrites + 2 * i + 1], "d", ARGV[aWrites + 2 * i + 2])
  end
  local kEntries, aEntries = plan.kEntries, plan.aEntries
  for i = 1, plan.nEntries do
    redis.call("RPUSH", KEYS[kEntries + i], ARGV[aEntries + i])
  end
  local kTransfers, aTransfers = plan.kTransfers, plan.aTransfers
  if plan.nEntries + plan.nTransfers > 0 then
    -- One event per plan (the archive reads an event as one apply): the transfers as a JSON array,
    -- joined here rather than sent a second time, and references to the entries, which are
    -- stored once, in the ledger lists (events.lua reads them back from there). Written before
    -- the transfer lists: a reference to a transfer names the event's id, which XADD gives.
    local transfers = "[" .. table.concat(ARGV, ",", aTransfers + 1, aTransfers + plan.nTransfers) .. "]"
    local id
    if listsHoldRefs then
      id = redis.call("XADD", KEYS[5], "*", "entryRefs", plan.entryRefs, "transfers", transfers)
    else
      redis.call("XADD", KEYS[5], "MAXLEN", "~", eventsMaxLen, "*", "entryRefs", plan.entryRefs, "transfers", transfers)
    end
    for i = 0, plan.nTransfers - 1 do
      local element = listsHoldRefs and (id .. "#" .. i) or ARGV[aTransfers + i + 1]
      redis.call("RPUSH", KEYS[kTransfers + 2 * i + 1], element)
      redis.call("RPUSH", KEYS[kTransfers + 2 * i + 2], element)
    end
  end
  for i = 0, plan.nSystem - 1 do
    local account = ARGV[aSystem + 2 * i + 1]
    system[account] = system[account] + tonumber(ARGV[aSystem + 2 * i + 2])
    systemChanged[account] = true
  end
  local aStats = plan.aStats
  for i = 0, plan.nStats - 1 do
    addStat(ARGV[aStats + 2 * i + 1], tonumber(ARGV[aStats + 2 * i + 2]))
  end
  local aExpiryRemove = plan.aExpiryRemove
  for i = 1, plan.nExpiryRemove do
    redis.call("ZREM", KEYS[3], ARGV[aExpiryRemove + i])
  end
  local aExpiryAdd = plan.aExpiryAdd
  for i = 0, plan.nExpiryAdd - 1 do
    redis.call("ZADD", KEYS[3], ARGV[aExpiryAdd + 2 * i + 2], ARGV[aExpiryAdd + 2 * i + 1])
  end
  local aNewAccounts = plan.aNewAccounts
  for i = 1, plan.nNewAccounts do
    redis.call("ZADD", KEYS[4], 0, ARGV[aNewAccounts + i])
  end
  local aClosedAccounts = plan.aClosedAccounts
  for i = 0, plan.nClosedAccounts - 1 do
    local account = ARGV[aClosedAccounts + 2 * i + 1]
    redis.call("ZREM", KEYS[4], account)
    redis.call("ZADD", KEYS[6], ARGV[aClosedAccounts + 2 * i + 2], account)
  end
  if plan.mode == "2" then
    redis.call("SET", plan.idemKey, plan.fingerprint .. plan.response, "PX", plan.ttlMs)
  elseif plan.idemKey then
    redis.call("HSET", plan.idemKey, "f", plan.fingerprint, "r", plan.response)
    redis.call("PEXPIRE", plan.idemKey, plan.ttlMs)
  end
  return { "APPLIED" }
end

local replies = {}
for p = 1, nPlans do
  replies[p] = applyPlan(plans[p])
end
-- The batch's system balances and counters, one write per account and counter.
for account in pairs(systemChanged) do
  redis.call("HSET", KEYS[1], account, string.format("%d", system[account]))
end
for name, delta in pairs(statDelta) do
  if delta ~= 0 then redis.call("HINCRBY", KEYS[2], name, string.format("%d", delta)) end
end
return replies
