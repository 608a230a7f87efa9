import { CREATED_TIME_FIELD, EVENT_TIME_FIELD } from './key-layout.ts';
import { PUT_ROW_LUA } from './put-row.lua.ts';

/**
 * The monotonic write's parts, as Lua to prepend (after PUT_ROW_LUA) to the scripts that write
 * rows of the put-row.lua.ts layout: this script and fresh-write-many.lua.ts.
 *
 * `checkRowArgs(first)` checks ARGV whole against KEYS[first..] (one row each) and returns an
 * error reply, or nil when ARGV fits. `writeIfNewer(key, at, nowMs)` writes the row at ARGV[at]
 * if it is newer than the stored one; returns 1 written, 2 skipped (not newer), 3 expired
 * (applied but nothing kept).
 */
export const MONOTONIC_ROW_LUA = `
local function checkRowArgs(first)
  local at = 1
  for k = first, #KEYS do
    local count = tonumber(ARGV[at + 3])
    if not (tonumber(ARGV[at]) and tonumber(ARGV[at + 1]) and tonumber(ARGV[at + 2]) and count) then
      return redis.error_reply('granary monotonic write: row ' .. (k - first + 1) .. ' (' .. KEYS[k] .. ') has no numeric times and pair count')
    end
    at = at + 4 + 2 * count
  end
  if at - 1 ~= #ARGV then
    return redis.error_reply('granary monotonic write: ' .. (#KEYS - first + 1) .. ' rows need ' .. (at - 1) .. ' arguments, got ' .. #ARGV)
  end
  return nil
end
local function writeIfNewer(key, at, nowMs)
  local eventTime = tonumber(ARGV[at])
  local createdTime = tonumber(ARGV[at + 1])
  local stored = redis.call('HMGET', key, '${EVENT_TIME_FIELD}', '${CREATED_TIME_FIELD}')
  if stored[1] then
    local storedEventTime = tonumber(stored[1])
    if eventTime < storedEventTime then return 2 end
    if eventTime == storedEventTime and createdTime <= (tonumber(stored[2]) or 0) then return 2 end
  end
  if putRow(key, at, nowMs) == 1 then return 1 end
  return 3
end
`;

/**
 * The monotonic write: the one place that decides whether a row replaces the stored one. It runs
 * inside Redis, many rows per call, so each row's check and replace is one atomic step (the whole
 * call is).
 *
 * KEYS[1..n]  the row hashes, one per row (a key may appear twice: the later row is compared
 *             against what the earlier one left)
 * ARGV        per row, in KEYS order: event time, created time, expire at, number of
 *             field/value pairs, then the pairs (the row layout of put-row.lua.ts)
 *
 * A row applies only when its (event time, created time) is strictly greater, lexicographically,
 * than the stored pair (or nothing is stored); then it replaces the whole row and sets PEXPIREAT,
 * or, when its expiry is already past by Redis' clock (TIME, read once per call), deletes the
 * older row and keeps nothing (put-row.lua.ts).
 *
 * ARGV is checked whole before anything is written: a malformed call is an error that writes
 * nothing. Returns { written, skipped (not newer), expired (applied but nothing kept) }.
 * Redis Cluster: every key of one call must hash to one slot (hash-slot.ts; issue 15).
 */
export const MONOTONIC_WRITE_MANY_LUA = `${PUT_ROW_LUA}${MONOTONIC_ROW_LUA}
local malformed = checkRowArgs(1)
if malformed then return malformed end
local nowMs = redisNowMs()
local counts = { 0, 0, 0 }
local at = 1
for k = 1, #KEYS do
  local outcome = writeIfNewer(KEYS[k], at, nowMs)
  counts[outcome] = counts[outcome] + 1
  at = at + 4 + 2 * tonumber(ARGV[at + 3])
end
return counts
`;

/** The name the script is registered under with ioredis `defineCommand` (KEYS count passed per call). */
export const MONOTONIC_WRITE_MANY_COMMAND = 'granaryMonotonicWriteMany';
