--[[
  apply-batch.lua: the offset fence (DESIGN.md §4, §11). Applies one partition slice's Redis
  writes and the partition's new offset together, atomically, and only if the stored offset is
  exactly the one the consumer expects to find: offsets are facts, never arithmetic, so a gap
  (a transaction marker, compaction, retention) between the stored offset and the slice's first
  record is fine, while a stored offset that moved (another owner applied ahead) or went back or
  vanished (Redis lost its last writes) is answered, and nothing is written.

  Nothing in a slice can make this script fail halfway (Redis does not roll a script back): every
  value is checked in the consumer before it is sent, and the one check that needs what Redis
  holds, a bounded sum, is made for every sum before the first write.

  KEYS[1]   the partition's offset key (<prefix>{<namespace>:<topic>:<partition>}:offset)
  KEYS[2]   the partition's de-duplication set (a sorted set: event id -> record time)
  KEYS[3..] every key the writes touch; all share KEYS[1]'s hash tag, so one slot
  ARGV[1]   the offset the consumer expects stored ('' when it expects none)
  ARGV[2]   the slice's last offset (decimal): stored as the partition's offset
  ARGV[3]   the writes, one JSON array of strings: for each operation its argc, then argc words.
            A plain operation is a Redis command (HSET key f v ...). A guarded one starts with
            IF_EXISTS or IF_NOT_EXISTS and a key: the rest runs only if that key exists (or not).
  ARGV[4]   bounded sums, one JSON array of strings: key, field, increment, add ('1' or '0') for
            each. Every one is checked first: the value plus the increment must stay within
            +-(2^53 - 1). Then those with add '1' are applied as HINCRBY, before the writes; those
            with '0' are only checked (a guarded HINCRBY of the writes may add them)
  ARGV[5]   the slice's event ids, one JSON array of strings ('[]': no de-duplication)
  ARGV[6]   the time (epoch ms) the ids are kept under; ARGV[7] ids older than this are dropped
  ARGV[8]   optional: a floor key (also among KEYS[3..]) holding a number that only grows; ARGV[9]
            the floor the slice was built with ('' for none). When the key holds more, the slice
            was built on a stale floor (analytics: the finality frontier) and is refused

  Returns, with nothing written unless the answer is 1:
    { 1, last }           applied
    { 0, stored }         the stored offset is not ARGV[1] ('' when there is none)
    { 2, i1, i2, ... }    the ids at these 1-based positions of ARGV[5] were applied before
    { 3, i, v1, v2, ... } the i-th bounded sum (1-based) would leave the safe-integer range;
                          v1… are the current values of every bounded sum, in ARGV[4]'s order
    { 4, floor }          the floor key holds `floor`, above ARGV[9]: build the slice again on it
]]
local stored = redis.call('GET', KEYS[1])
if (stored or '') ~= ARGV[1] then
  return { 0, stored or '' }
end

if ARGV[8] ~= nil and ARGV[8] ~= '' then
  local floor = redis.call('GET', ARGV[8])
  if floor and (ARGV[9] == '' or tonumber(floor) > tonumber(ARGV[9])) then
    return { 4, floor }
  end
end

local ids = cjson.decode(ARGV[5])
if #ids > 0 then
  local seen = {}
  -- ZMSCORE takes every id in one call; chunks keep the unpack within Lua's stack.
  for from = 1, #ids, 1000 do
    local to = math.min(from + 999, #ids)
    local scores = redis.call('ZMSCORE', KEYS[2], unpack(ids, from, to))
    for j = 1, #scores do
      if scores[j] then
        seen[#seen + 1] = from + j - 1
      end
    end
  end
  if #seen > 0 then
    return { 2, unpack(seen) }
  end
end

local sums = cjson.decode(ARGV[4])
-- Every operand is a safe integer, so a double sum is exact or lands past the bound. Sums of one
-- field add up (several records' amounts, checked or added, may go to one user's total). When one
-- would pass the bound, the answer carries every sum's current value: the consumer then decides,
-- record by record in offset order, which ones fit.
local LIMIT = 9007199254740991
local current = {}
local running = {}
local over = nil
for s = 1, #sums, 4 do
  local field = sums[s] .. '\0' .. sums[s + 1]
  local value = redis.call('HGET', sums[s], sums[s + 1]) or '0'
  local total = (running[field] or tonumber(value) or (LIMIT + 1)) + tonumber(sums[s + 2])
  running[field] = total
  current[#current + 1] = value
  if over == nil and (total > LIMIT or total < -LIMIT) then
    over = (s + 3) / 4
  end
end
if over ~= nil then
  return { 3, over, unpack(current) }
end
for s = 1, #sums, 4 do
  if sums[s + 3] == '1' then
    redis.call('HINCRBY', sums[s], sums[s + 1], sums[s + 2])
  end
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

if #ids > 0 then
  for from = 1, #ids, 500 do
    local args = {}
    for j = from, math.min(from + 499, #ids) do
      args[#args + 1] = ARGV[6]
      args[#args + 1] = ids[j]
    end
    redis.call('ZADD', KEYS[2], unpack(args))
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[7])
end

redis.call('SET', KEYS[1], ARGV[2])
return { 1, ARGV[2] }
