--[[
  apply-batch.lua: the offset fence. Applies one partition batch's Redis writes and the
  partition's new offset together, atomically, and only if that batch was not applied before.

  KEYS[1]   the partition's offset key (<prefix>{<namespace>:<topic>:<partition>}:offset)
  KEYS[2..] every key the writes touch; all share KEYS[1]'s hash tag, so one slot
  ARGV[1]   first offset of the batch (decimal)
  ARGV[2]   last offset of the batch (decimal): stored as the partition's offset
  ARGV[3]   number of write operations that follow
  ARGV[4..] the operations, each as: argc, then argc words. A plain operation is a Redis
            command (HSET key f v …). A guarded one starts with IF_EXISTS or IF_NOT_EXISTS and a
            key: the rest runs only if that key exists (or does not).

  Returns { 1, last } when applied; { 0, stored } when the stored offset is already at or past
  the batch's first offset (a replay after a crash or rebalance): nothing is written.
]]
local stored = redis.call('GET', KEYS[1])
if stored and tonumber(stored) >= tonumber(ARGV[1]) then
  return { 0, stored }
end

local i = 4
local n = tonumber(ARGV[3])
for _ = 1, n do
  local argc = tonumber(ARGV[i])
  local first = i + 1
  local guard = ARGV[first]
  if guard == 'IF_EXISTS' or guard == 'IF_NOT_EXISTS' then
    local exists = redis.call('EXISTS', ARGV[first + 1]) == 1
    if exists == (guard == 'IF_EXISTS') then
      redis.call(unpack(ARGV, first + 2, i + argc))
    end
  else
    redis.call(unpack(ARGV, first, i + argc))
  end
  i = i + argc + 1
end

redis.call('SET', KEYS[1], ARGV[2])
return { 1, ARGV[2] }
