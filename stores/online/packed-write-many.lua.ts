import { MARKER_APPLIED_FIELD } from './key-layout.ts';

/**
 * The writes of layout 2 (packed rows, packed-row-codec.ts), as Lua to prepend to the scripts
 * below and packed-replace-row.lua.ts. A row in ARGV, from index `at`:
 *   ARGV[at]      expire at, ms since epoch (event time + TTL + grace, row-expiry.ts)
 *   ARGV[at+1]    the packed row: its first 16 bytes are the event and created times
 *
 * `checkPackedArgs(first)`: ARGV holds one row per KEYS[first..], each with a numeric expiry and
 * at least a header; an error reply, or nil. `putPacked(key, at, nowMs)`: SET key row PXAT
 * expiry; or, when the expiry is already past by Redis' clock, DEL and keep nothing. 1 written,
 * 3 expired. `writePackedIfNewer(key, at, nowMs)`: putPacked only when the row's (event time,
 * created time) is strictly greater than the stored row's (GETRANGE of the 16-byte header,
 * `struct.unpack('>dd')`), else 2 (skipped). `redisNowMs()` is Redis' clock (TIME) in ms.
 */
export const PACKED_ROW_LUA = `
local function redisNowMs()
  local now = redis.call('TIME')
  return tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
end
local function checkPackedArgs(first)
  if #ARGV ~= 2 * (#KEYS - first + 1) then
    return redis.error_reply('granary packed write: ' .. (#KEYS - first + 1) .. ' rows need ' .. (2 * (#KEYS - first + 1)) .. ' arguments, got ' .. #ARGV)
  end
  for i = 1, #ARGV, 2 do
    if not tonumber(ARGV[i]) or #ARGV[i + 1] < 16 then
      return redis.error_reply('granary packed write: row ' .. ((i + 1) / 2) .. ' (' .. KEYS[first + (i - 1) / 2] .. ') has no numeric expiry and packed row')
    end
  end
  return nil
end
local function putPacked(key, at, nowMs)
  if tonumber(ARGV[at]) <= nowMs then
    redis.call('DEL', key)
    return 3
  end
  redis.call('SET', key, ARGV[at + 1], 'PXAT', ARGV[at])
  return 1
end
local function writePackedIfNewer(key, at, nowMs)
  local stored = redis.call('GETRANGE', key, 0, 15)
  if #stored == 16 then
    local storedEventTime, storedCreatedTime = struct.unpack('>dd', stored)
    local eventTime, createdTime = struct.unpack('>dd', ARGV[at + 1])
    if eventTime < storedEventTime then return 2 end
    if eventTime == storedEventTime and createdTime <= storedCreatedTime then return 2 end
  end
  return putPacked(key, at, nowMs)
end
`;

/**
 * The monotonic write of layout 2, the one place that decides whether a packed row replaces the
 * stored one: many rows per call, each row's check and replace one atomic step (the call is).
 *
 * KEYS[1..n]  the row keys, one per row, all of one bucket (one hash tag: one Cluster slot); a key
 *             may appear twice, the later row compared against what the earlier one left
 * ARGV        per row, in KEYS order: expire at, packed row (PACKED_ROW_LUA)
 *
 * A row applies only when its (event time, created time) is strictly greater than the stored
 * pair (or nothing is stored); it then replaces the row whole (SET ... PXAT), a null being an
 * absent feature in its bitmap. ARGV is checked whole before anything is written. Returns
 * { written, skipped (not newer), expired (applied but nothing kept) }.
 */
export const PACKED_WRITE_MANY_LUA = `${PACKED_ROW_LUA}
local malformed = checkPackedArgs(1)
if malformed then return malformed end
local nowMs = redisNowMs()
local counts = { 0, 0, 0 }
for k = 1, #KEYS do
  local outcome = writePackedIfNewer(KEYS[k], 2 * k - 1, nowMs)
  counts[outcome] = counts[outcome] + 1
end
return counts
`;

export const PACKED_WRITE_MANY_COMMAND = 'granaryPackedWriteMany';

/**
 * The rebuild's write into the generation it builds, layout 2 (fresh-write-many.lua.ts is the
 * same for layout 1; the fence is explained there): while the generation's marker exists and
 * records no applied commit, each row is put plainly (SET ... PXAT, no read); once it records one,
 * or when it is gone, through the monotonic write. Decided once per call, atomically with it.
 *
 * KEYS[1]     the generation's marker hash; on Redis Cluster the bucket's marker hash (in the
 *             rows' slot, key-layout.ts bucketMarkerKey), so the fence is kept per bucket
 * KEYS[2..n]  the row keys of one bucket, each entity at most once
 * ARGV        per row: expire at, packed row
 *
 * Returns { written, skipped, expired, 1 when the fence was open else 0 }.
 */
export const PACKED_FRESH_WRITE_MANY_LUA = `${PACKED_ROW_LUA}
local malformed = checkPackedArgs(2)
if malformed then return malformed end
local nowMs = redisNowMs()
local fresh = redis.call('EXISTS', KEYS[1]) == 1 and (tonumber(redis.call('HGET', KEYS[1], '${MARKER_APPLIED_FIELD}') or '0') or 1) == 0
local counts = { 0, 0, 0, fresh and 1 or 0 }
for k = 2, #KEYS do
  local outcome
  if fresh then outcome = putPacked(KEYS[k], 2 * k - 3, nowMs) else outcome = writePackedIfNewer(KEYS[k], 2 * k - 3, nowMs) end
  counts[outcome] = counts[outcome] + 1
end
return counts
`;

export const PACKED_FRESH_WRITE_MANY_COMMAND = 'granaryPackedFreshWriteMany';

/**
 * The repair write of layout 2 (replace-row.lua.ts is the same for layout 1): replaces (or
 * deletes) one row whatever its times, if the stored row still has the times the caller read.
 *
 * KEYS[1]  the row key
 * ARGV[1], ARGV[2]  the stored event and created time the caller read ('' when no row)
 * ARGV[3]  'row' or 'none'
 * ARGV[4], ARGV[5]  with 'row': expire at, packed row
 *
 * Returns 1 written, 3 deleted, 2 written but already expired (nothing kept), -1 conflict.
 */
export const PACKED_REPLACE_ROW_LUA = `${PACKED_ROW_LUA}
local key = KEYS[1]
local stored = redis.call('GETRANGE', key, 0, 15)
if #stored < 16 then
  if ARGV[1] ~= '' then return -1 end
else
  local storedEventTime, storedCreatedTime = struct.unpack('>dd', stored)
  if ARGV[1] == '' or storedEventTime ~= tonumber(ARGV[1]) or storedCreatedTime ~= tonumber(ARGV[2]) then return -1 end
end
if ARGV[3] == 'none' then
  redis.call('DEL', key)
  return 3
end
if putPacked(key, 4, redisNowMs()) == 1 then return 1 end
return 2
`;

export const PACKED_REPLACE_ROW_COMMAND = 'granaryPackedReplaceRow';

/**
 * Writes a generation's marker if it has none: created at, and the layout it gets. An existing
 * marker is left whole (its applied seq, and its layout: a layout-1 marker stays layout 1).
 *
 * KEYS[1]  the marker hash
 * ARGV     field, value, ... (createdAt, layout, buckets)
 *
 * Returns 1 when written, 0 when a marker was there.
 */
export const MARK_GENERATION_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`;

export const MARK_GENERATION_COMMAND = 'granaryMarkGeneration';

/**
 * Appends features to a layout-2 generation's packing order (the marker's `features`), if it is
 * still the one the caller read: compare-and-set, so two writers never lose each other's feature.
 *
 * KEYS[1]  the marker hash
 * ARGV[1]  the `features` the caller read; ARGV[2] the extended list
 *
 * Returns the marker's `features` after the call (nil when the marker is gone).
 */
export const EXTEND_PACKING_LUA = `
local current = redis.call('HGET', KEYS[1], 'features')
if current == ARGV[1] then
  redis.call('HSET', KEYS[1], 'features', ARGV[2])
  return ARGV[2]
end
return current
`;

export const EXTEND_PACKING_COMMAND = 'granaryExtendPacking';
