import { CREATED_TIME_FIELD, EVENT_TIME_FIELD } from './key-layout.ts';

/**
 * The tail both row-writing scripts share, as Lua to prepend to them (monotonic-write-many.lua.ts
 * and replace-row.lua.ts): how a row, once the script decided it replaces the stored one, is put.
 * It decides nothing itself.
 *
 * A row in ARGV, from index `at` (one layout for both scripts, encoded by `rowArgs` in
 * redis-online-store.ts):
 *   ARGV[at]      event time, ms (decimal)
 *   ARGV[at+1]    created time, ms (decimal; 0 when the source has none)
 *   ARGV[at+2]    expire at, ms since epoch (event time + TTL + grace)
 *   ARGV[at+3]    n, the number of field/value pairs that follow
 *   ARGV[at+4..]  field, value, ... for the non-null features only
 *
 * `putRow(key, at, nowMs)` replaces the whole row (DEL + HSET, so a null clears an older value)
 * and sets PEXPIREAT. If the expiry is already past `nowMs` (Redis' clock), the older row is
 * deleted and nothing is kept: a reader, or verify, must count a row whose event time + TTL +
 * grace has passed as expired, whether or not Redis still holds it. Returns 1 written, 2 expired.
 * `redisNowMs()` reads Redis' clock (TIME) in ms; a script reads it once.
 */
export const PUT_ROW_LUA = `
local function redisNowMs()
  local now = redis.call('TIME')
  return tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
end
local function putRow(key, at, nowMs)
  redis.call('DEL', key)
  if tonumber(ARGV[at + 2]) <= nowMs then return 2 end
  redis.call('HSET', key, '${EVENT_TIME_FIELD}', ARGV[at], '${CREATED_TIME_FIELD}', ARGV[at + 1], unpack(ARGV, at + 4, at + 3 + 2 * tonumber(ARGV[at + 3])))
  redis.call('PEXPIREAT', key, ARGV[at + 2])
  return 1
end
`;
