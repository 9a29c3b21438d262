--[[
  finalizer-lease.lua: takes or renews the analytics finalizer's lease, so that one process at a
  time emits final windows (several `tributary consume analytics` processes may share the group).
  A process that dies keeps the lease until it expires; then the next one takes it.

  Every time the lease changes hands (taken while free, also by its former holder after it
  expired) a new fencing token is issued: larger than every token issued before, so a holder that
  paused past its lease (GC, network) and carries on with its old token is refused by every write
  (finalizer-fenced.lua). The token is the larger of the last one + 1 and Redis's clock in ms, so
  it still grows when Redis lost its last writes (the token key with them) and restarted.

  KEYS[1]  the lease key (<prefix>{analytics.<version>:group}:leader), value: the holder's id
  KEYS[2]  the token key (<prefix>{analytics.<version>:group}:leader-token), never expires
  ARGV[1]  the id of the calling process
  ARGV[2]  lease length, ms

  Returns { 1, token } when the caller holds the lease now (taken or renewed; token: decimal),
          { 0, holder } when another process does.
]]
local holder = redis.call('GET', KEYS[1])
if holder ~= false and holder ~= ARGV[1] then
  return { 0, holder }
end
local token = redis.call('GET', KEYS[2])
if holder == false or token == false then
  local now = redis.call('TIME')
  local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  local next = math.max((tonumber(token) or 0) + 1, ms)
  token = string.format('%d', next)
  redis.call('SET', KEYS[2], token)
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return { 1, token }
