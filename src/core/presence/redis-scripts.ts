// Lua scripts of the Redis presence: each change is one atomic script that also publishes it, so every node's
// onChange sees the changes in the order Redis applied them. Keys (P = the prefix): P..'entries' (hash: client id →
// entry JSON), P..'u:'..kind..':'..username (set: the account's client ids), P..'n:'..node (set: client ids bound to a
// node's liveness), P..'exp' (zset: expiring client ids by expiry), P..'nodes' (zset: node → alive until), and the
// channel P..'changes' ('1' or '0' then the entry JSON). Times are the callers' Clock milliseconds.

const prelude = `
local P = ARGV[1]
local function unindex(id, o)
  redis.call('SREM', P..'u:'..o.kind..':'..o.username, id)
  redis.call('SREM', P..'n:'..o.node, id)
  redis.call('ZREM', P..'exp', id)
end
-- remove a client's entry (only if it is still node's, when node is given) and announce it offline
local function gone(id, node)
  local old = redis.call('HGET', P..'entries', id)
  if not old then return 0 end
  local o = cjson.decode(old)
  if node and o.node ~= node then return 0 end
  unindex(id, o)
  redis.call('HDEL', P..'entries', id)
  redis.call('PUBLISH', P..'changes', '0'..old)
  return 1
end
local function nodeLive(node, now, self)
  if node == self then return true end
  local s = redis.call('ZSCORE', P..'nodes', node)
  return s and tonumber(s) > now
end
`

/** ARGV: P, id, json, node, kind, username, expiresAt ('' for node-bound), onlyIfAbsent ('1') */
export const connectScript = prelude + `
local id = ARGV[2]
local old = redis.call('HGET', P..'entries', id)
if old then
  if ARGV[8] == '1' then return 0 end
  unindex(id, cjson.decode(old))
end
redis.call('HSET', P..'entries', id, ARGV[3])
redis.call('SADD', P..'u:'..ARGV[5]..':'..ARGV[6], id)
if ARGV[7] ~= '' then redis.call('ZADD', P..'exp', ARGV[7], id) else redis.call('SADD', P..'n:'..ARGV[4], id) end
redis.call('PUBLISH', P..'changes', '1'..ARGV[3])
return 1
`

/** ARGV: P, id, node, since ('' removes whatever entry) */
export const disconnectScript = prelude + `
local id = ARGV[2]
if ARGV[4] == '' then return gone(id, nil) end
local old = redis.call('HGET', P..'entries', id)
if not old then return 0 end
local o = cjson.decode(old)
if o.node ~= ARGV[3] or o.since ~= tonumber(ARGV[4]) then return 0 end
return gone(id, ARGV[3])
`

/** ARGV: P, id, expiresAt, now */
export const touchScript = prelude + `
local s = redis.call('ZSCORE', P..'exp', ARGV[2])
if not s or tonumber(s) <= tonumber(ARGV[4]) then return 0 end
if tonumber(ARGV[3]) > tonumber(s) then redis.call('ZADD', P..'exp', ARGV[3], ARGV[2]) end
return 1
`

/** ARGV: P, now, self, ids…: for each live entry its JSON and its expiry ('' when node-bound) */
export const readScript = prelude + `
local now, self = tonumber(ARGV[2]), ARGV[3]
local out = {}
for i = 4, #ARGV do
  local json = redis.call('HGET', P..'entries', ARGV[i])
  if json then
    local exp = redis.call('ZSCORE', P..'exp', ARGV[i])
    local live
    if exp then live = tonumber(exp) > now else live = nodeLive(cjson.decode(json).node, now, self) end
    if live then out[#out + 1] = json; out[#out + 1] = exp or '' end
  end
end
return out
`

/** ARGV: P, now, self: live entries (node-bound ones of live nodes, unexpired expiring ones) */
export const countScript = prelude + `
local now, self = tonumber(ARGV[2]), ARGV[3]
local n = redis.call('SCARD', P..'n:'..self) + redis.call('ZCOUNT', P..'exp', '(' .. ARGV[2], '+inf')
for _, node in ipairs(redis.call('ZRANGEBYSCORE', P..'nodes', '(' .. ARGV[2], '+inf')) do
  if node ~= self then n = n + redis.call('SCARD', P..'n:'..node) end
end
return n
`

/** ARGV: P, now, self, aliveUntil: refresh this node, then remove expired entries and dead nodes' entries.
 *  Answers 1 when this node was missing (it had been taken for dead: its entries are gone). */
export const heartbeatScript = prelude + `
local now, self = ARGV[2], ARGV[3]
local added = redis.call('ZADD', P..'nodes', ARGV[4], self)
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P..'exp', '-inf', now, 'LIMIT', 0, 1000)) do gone(id, nil) end
for _, node in ipairs(redis.call('ZRANGEBYSCORE', P..'nodes', '-inf', now, 'LIMIT', 0, 100)) do
  if node ~= self then
    for _, id in ipairs(redis.call('SMEMBERS', P..'n:'..node)) do gone(id, node) end
    redis.call('DEL', P..'n:'..node)
    redis.call('ZREM', P..'nodes', node)
  end
end
return added
`

/** ARGV: P, self: this node leaves cleanly */
export const leaveScript = prelude + `
local self = ARGV[2]
for _, id in ipairs(redis.call('SMEMBERS', P..'n:'..self)) do gone(id, self) end
redis.call('DEL', P..'n:'..self)
redis.call('ZREM', P..'nodes', self)
return 1
`
