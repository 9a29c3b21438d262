--[[
  finalizer-fenced.lua: the analytics finalizer's writes, applied only while its fencing token
  (finalizer-lease.lua) is still the newest one this slot has seen. One script per hash slot: the
  group's keys (frontier, emitted marks), or one partition's keys (its frontier floor, its index
  of windows), so it works on Redis Cluster too.

  KEYS[1]  the fence: in the group slot the token key itself (it holds the newest token issued);
           in a partition slot a key remembering the newest token that wrote there
  KEYS[2..] every key the writes touch (same slot as KEYS[1])
  ARGV[1]  the caller's token (decimal)
  ARGV[2]  the writes, one JSON array of strings: for each operation its argc, then argc words.
           A plain operation is a Redis command (SET k v PX ms, ZREM k m ..., PUBLISH ch msg).
           `RAISE key value` stores the number `value` at `key` only if it is greater than what
           the key holds (or the key is missing): a frontier never moves back.
           `AT_LEAST key value` is a precondition, checked before any write: the number at `key`
           (-1 when missing) must be at least `value`. The finalizer states with it the stored
           offsets it read, which only grow unless Redis lost writes since.

  Returns { 1 } applied, { 0, newest } refused (nothing written): a newer token wrote here,
  { 2, key } refused (nothing written): a precondition does not hold.
]]
local mine = tonumber(ARGV[1])
local newest = tonumber(redis.call('GET', KEYS[1]) or '0')
if newest > mine then
  return { 0, string.format('%d', newest) }
end

local words = cjson.decode(ARGV[2])
local i = 1
while i <= #words do
  local argc = tonumber(words[i])
  if words[i + 1] == 'AT_LEAST' then
    local held = tonumber(redis.call('GET', words[i + 2]) or '-1') or -1
    if held < tonumber(words[i + 3]) then
      return { 2, words[i + 2] }
    end
  end
  i = i + argc + 1
end

if newest < mine then
  -- A partition slot learns the newest token (in the group slot the token key holds it already,
  -- unless Redis lost it: then this puts it back).
  redis.call('SET', KEYS[1], ARGV[1])
end

i = 1
while i <= #words do
  local argc = tonumber(words[i])
  if words[i + 1] == 'AT_LEAST' then
    -- checked above
  elseif words[i + 1] == 'RAISE' then
    local key, value = words[i + 2], tonumber(words[i + 3])
    local current = tonumber(redis.call('GET', key) or '')
    if current == nil or value > current then
      redis.call('SET', key, words[i + 3])
    end
  else
    redis.call(unpack(words, i + 1, i + argc))
  end
  i = i + argc + 1
end
return { 1 }
