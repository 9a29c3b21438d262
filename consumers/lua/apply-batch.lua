--[[
  apply-batch.lua: the offset fence. Applies one partition batch's Redis writes and the
  partition's new offset together, atomically, and only if that batch was not applied before.

  KEYS[1]   the partition's offset key (<prefix>{<namespace>:<topic>:<partition>}:offset)
  KEYS[2..] every key the writes touch; all share KEYS[1]'s hash tag, so one slot
  ARGV[1]   first offset of the batch (decimal)
  ARGV[2]   last offset of the batch (decimal): stored as the partition's offset
  ARGV[3]   the write operations, as one JSON array of strings: for each operation its argc,
            then argc words. A plain operation is a Redis command (HSET key f v …). A guarded
            one starts with IF_EXISTS or IF_NOT_EXISTS and a key: the rest runs only if that
            key exists (or does not). One argument decoded here (cjson is C) costs Redis less
            than thousands of ARGV entries, and the client less to send.

  Returns { 1, last } when applied; { 0, stored } when the stored offset is already at or past
  the batch's first offset (a replay after a crash or rebalance): nothing is written.
]]
local stored = redis.call('GET', KEYS[1])
if stored and tonumber(stored) >= tonumber(ARGV[1]) then
  return { 0, stored }
end

local words = cjson.decode(ARGV[3])
local i = 1
local n = #words
-- The last guard checked and whether it existed, valid until a command runs: projections pair
-- IF_NOT_EXISTS k … with IF_EXISTS k …, and the second check is then answered without a call.
local checked, existed
while i <= n do
  local argc = tonumber(words[i])
  local first = i + 1
  local guard = words[first]
  if guard == 'IF_EXISTS' or guard == 'IF_NOT_EXISTS' then
    local key = words[first + 1]
    if key ~= checked then
      checked, existed = key, redis.call('EXISTS', key) == 1
    end
    if existed == (guard == 'IF_EXISTS') then
      checked = nil
      redis.call(unpack(words, first + 2, i + argc))
    end
  else
    checked = nil
    redis.call(unpack(words, first, i + argc))
  end
  i = i + argc + 1
end

redis.call('SET', KEYS[1], ARGV[2])
return { 1, ARGV[2] }
