import { CREATED_TIME_FIELD, EVENT_TIME_FIELD, MARKER_APPLIED_FIELD } from './key-layout.ts';
import { MONOTONIC_ROW_LUA } from './monotonic-write-many.lua.ts';
import { PUT_ROW_LUA } from './put-row.lua.ts';

/**
 * The rebuild's write into the generation it builds, which nobody else writes until the build is
 * marked done: without the monotonic compare while that holds, decided in Redis once per call.
 *
 * KEYS[1]     the generation's marker hash (key-layout.ts)
 * KEYS[2..n]  the row hashes, one per row, each entity at most once in a call
 * ARGV        per row, in KEYS order, the row layout of put-row.lua.ts
 *
 * The fence is the marker's applied seq: the build's rows come before it moves (markRebuiltUpTo
 * records the build's commits there first; a catch-up or materialization writes the generation
 * only after that). While the marker exists and records no applied commit, each row is put
 * plainly: HSET of its times and non-null pairs, and PEXPIREAT; or, when its expiry is already
 * past by Redis' clock, the key is deleted and nothing kept. The only row it can meet is the same
 * row from an earlier attempt of the same build (a partition's rows are deterministic), so it
 * neither compares nor deletes first. Once the applied seq moved, or when the marker is gone (a
 * zombie attempt still writing after its build was given up), every row goes through the
 * monotonic write (monotonic-write-many.lua.ts) instead: an older row never overwrites a newer
 * one whatever the timing, since the fence and the writes of a call are one atomic step.
 *
 * ARGV is checked whole before anything is written. Returns { written, skipped (not newer:
 * monotonic calls only), expired, 1 when the call wrote plainly (fence open) else 0 }.
 * Redis Cluster (issue 15): the marker and the rows must then share a slot, e.g. by a hash tag
 * per partition; a standalone Redis is assumed here.
 */
export const FRESH_WRITE_MANY_LUA = `${PUT_ROW_LUA}${MONOTONIC_ROW_LUA}
local malformed = checkRowArgs(2)
if malformed then return malformed end
local nowMs = redisNowMs()
local fresh = redis.call('EXISTS', KEYS[1]) == 1 and (tonumber(redis.call('HGET', KEYS[1], '${MARKER_APPLIED_FIELD}') or '0') or 1) == 0
local counts = { 0, 0, 0, fresh and 1 or 0 }
local at = 1
for k = 2, #KEYS do
  local key = KEYS[k]
  local n = tonumber(ARGV[at + 3])
  if not fresh then
    local outcome = writeIfNewer(key, at, nowMs)
    counts[outcome] = counts[outcome] + 1
  elseif tonumber(ARGV[at + 2]) <= nowMs then
    redis.call('DEL', key)
    counts[3] = counts[3] + 1
  else
    redis.call('HSET', key, '${EVENT_TIME_FIELD}', ARGV[at], '${CREATED_TIME_FIELD}', ARGV[at + 1], unpack(ARGV, at + 4, at + 3 + 2 * n))
    redis.call('PEXPIREAT', key, ARGV[at + 2])
    counts[1] = counts[1] + 1
  end
  at = at + 4 + 2 * n
end
return counts
`;

/** The name the script is defined under (ioredis defineCommand; KEYS count passed per call). */
export const FRESH_WRITE_MANY_COMMAND = 'granaryFreshWriteMany';
