--[[
  load.lua: a consistent snapshot of some objects and one idempotency record,
  in one round trip (the hot path: plan, then apply).

  Layout: scriptLayouts.ts (checked against this header by test/store/scriptHeaders.test.ts).
  KEYS
    then nObjects       x object(key)        P obj:<key> of each object (nObjects: every key but the record's)
    then hasIdempotency x idempotency(key)   P idem:<key>: one when hasIdempotency is "1", else none
  ARGV
    1  hasIdempotency   "1" when the last key is an idempotency record, else "0"

  Returns {found, fingerprint, response, v1, d1, v2, d2, ...}
    found = "1" when the record exists (then fingerprint and response are
    its fields), else "0", "", ""; then for each object its version and JSON,
    "0" and "" when absent.
]]

-- The idempotency record is a hash of f and r, or (compact) one string: 22 base64url characters of
-- fingerprint, then the response ("~..."; earlier versions: 32 hex digits, "|" and JSON). The
-- fingerprint is returned as stored: scriptResults.ts reads either form. See apply.lua's
-- parseCompact, which this keeps in step with.
local nObjects = #KEYS
local reply = { "0", "", "" }
if ARGV[1] == "1" then
  nObjects = nObjects - 1
  local value = redis.pcall("GET", KEYS[#KEYS])
  if type(value) == "table" and value.err then
    local record = redis.call("HMGET", KEYS[#KEYS], "f", "r")
    if record[1] then
      reply = { "1", record[1], record[2] or "" }
    end
  elseif value then
    if string.byte(value, 23) == 126 then
      reply = { "1", string.sub(value, 1, 22), string.sub(value, 23) }
    elseif string.len(value) > 32 and string.byte(value, 33) == 124 then
      reply = { "1", string.sub(value, 1, 32), string.sub(value, 34) }
    else
      reply = { "1", value, "" }
    end
  end
end
for i = 1, nObjects do
  local current = redis.call("HMGET", KEYS[i], "v", "d")
  reply[#reply + 1] = current[1] or "0"
  reply[#reply + 1] = current[2] or ""
end
return reply
