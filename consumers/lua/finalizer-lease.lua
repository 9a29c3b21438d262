--[[
  finalizer-lease.lua: takes or renews the analytics finalizer's lease, so that one process at a
  time emits final windows (several `tributary consume analytics` processes may share the group).
  A process that dies keeps the lease until it expires; then the next one takes it.

  KEYS[1]  the lease key (<prefix>{analytics.<version>:group}:leader)
  ARGV[1]  the id of the calling process
  ARGV[2]  lease length, ms

  Returns 1 when the caller holds the lease now (taken or renewed), 0 when another process does.
]]
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
