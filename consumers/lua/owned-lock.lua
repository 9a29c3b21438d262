--[[
  owned-lock.lua: renews or releases a lock taken with SET NX PX (the rebuild lock), only for the
  holder that took it: the lock's value is JSON whose `token` is the holder's.

  KEYS[1]  the lock key
  ARGV[1]  'renew' or 'release'
  ARGV[2]  the holder's token
  ARGV[3]  lease length, ms (renew)

  Returns 1 when done, 0 when the lock is gone or another holder has it (nothing changed).
]]
local value = redis.call('GET', KEYS[1])
if value == false then
  return 0
end
local ok, lock = pcall(cjson.decode, value)
if not ok or type(lock) ~= 'table' or lock.token ~= ARGV[2] then
  return 0
end
if ARGV[1] == 'renew' then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
else
  redis.call('DEL', KEYS[1])
end
return 1
