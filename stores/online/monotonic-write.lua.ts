import { CREATED_TIME_FIELD, EVENT_TIME_FIELD } from './key-layout.ts';

/**
 * The monotonic write: the one place that decides whether a row replaces the stored one. It runs
 * inside Redis, so the check and the replace are one atomic step.
 *
 * KEYS[1]  the row hash
 * ARGV[1]  event time, ms (decimal)
 * ARGV[2]  created time, ms (decimal; 0 when the source has none)
 * ARGV[3]  expire at, ms since epoch (event time + TTL + grace)
 * ARGV[4..] field, value, field, value, ... for the non-null features only
 *
 * Applies only when (event time, created time) is strictly greater, lexicographically, than the
 * stored pair (or nothing is stored); then replaces the whole row (DEL + HSET, so a null clears an
 * older value) and sets PEXPIREAT. If the expiry is already past by Redis' clock, the older row
 * is deleted and nothing is kept: a reader, or verify, must count a row whose event time + TTL +
 * grace has passed as expired, whether or not Redis still holds it.
 *
 * Returns 1 written, 0 skipped (not newer), 2 applied but expired (nothing kept).
 * It touches one key only, so it also runs unchanged on Redis Cluster.
 */
export const MONOTONIC_WRITE_LUA = `
local key = KEYS[1]
local eventTime = tonumber(ARGV[1])
local createdTime = tonumber(ARGV[2])
local stored = redis.call('HMGET', key, '${EVENT_TIME_FIELD}', '${CREATED_TIME_FIELD}')
if stored[1] then
  local storedEventTime = tonumber(stored[1])
  if eventTime < storedEventTime then return 0 end
  if eventTime == storedEventTime and createdTime <= (tonumber(stored[2]) or 0) then return 0 end
end
redis.call('DEL', key)
local now = redis.call('TIME')
local expireAt = tonumber(ARGV[3])
if expireAt <= tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) then return 2 end
local fields = { '${EVENT_TIME_FIELD}', ARGV[1], '${CREATED_TIME_FIELD}', ARGV[2] }
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', key, unpack(fields))
redis.call('PEXPIREAT', key, ARGV[3])
return 1
`;

/** The name the script is registered under with ioredis `defineCommand`. */
export const MONOTONIC_WRITE_COMMAND = 'granaryMonotonicWrite';

/** The values the script returns. */
export const MONOTONIC_WRITE_RESULT = { skipped: 0, written: 1, expired: 2 } as const;
