--[[
  lease.lua: the archiver's lease (one archiver active across instances) with a
  fencing token. Key layout: src/store/redis/redisKeys.ts.

  The lease holds "<owner> <token>" with a TTL. Taking a free (or expired)
  lease draws a new token from the counter, so every holder's token is larger
  than every earlier holder's; the history store refuses writes carrying a
  token lower than one it has seen (the fence), which stops an archiver that
  paused past its lease from writing over its successor.

  Layout: scriptLayouts.ts (checked against this header by test/store/scriptHeaders.test.ts).
  KEYS
    1  lease       P archiver:lease: string "<owner> <token>", PX = lease duration
    2  token       P archiver:token: counter of tokens ever handed out
  ARGV
    1  action      "acquire" (take or renew) | "release" (drop if held by owner)
    2  owner       owner id (no spaces)
    3  durationMs  lease duration in ms (acquire only; a release sends "0", not read)

  Returns (first element is the code)
    {"ACQUIRED", token}    the lease was free: now held by owner, with a new token
    {"RENEWED", token}     owner already held it: TTL restarted, same token
    {"HELD", otherOwner}   someone else holds it: nothing changed
    {"RELEASED"}           owner held it: deleted
    {"NOT_HELD"}           release by someone not holding it: nothing changed
]]

-- INCR is written before SET: a bad duration must be refused before either.
if ARGV[1] == "acquire" and not (tonumber(ARGV[3]) and tonumber(ARGV[3]) >= 1) then
  return redis.error_reply("ERR lease.lua: the lease duration (ARGV 3) must be a positive number of ms")
end

local current = redis.call("GET", KEYS[1])
local holder, token
if current then
  local sep = string.find(current, " ", 1, true)
  holder = string.sub(current, 1, sep - 1)
  token = string.sub(current, sep + 1)
end

if ARGV[1] == "release" then
  if holder == ARGV[2] then
    redis.call("DEL", KEYS[1])
    return { "RELEASED" }
  end
  return { "NOT_HELD" }
end

if holder == ARGV[2] then
  redis.call("PEXPIRE", KEYS[1], ARGV[3])
  return { "RENEWED", token }
end
if holder then
  return { "HELD", holder }
end
local next = redis.call("INCR", KEYS[2])
redis.call("SET", KEYS[1], ARGV[2] .. " " .. next, "PX", ARGV[3])
return { "ACQUIRED", tostring(next) }
