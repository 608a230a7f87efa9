import { MARKER_APPLIED_FIELD, MARKER_ROWS_FIELD } from './key-layout.ts';

/**
 * The writes of layout 2 (packed rows, packed-row-codec.ts), as Lua to prepend to the scripts
 * below and to packed-fresh-write-blob.lua.ts. A row is an expiry and its packed bytes; the
 * argument scripts take them from ARGV, two arguments per row from index `at`:
 *   ARGV[at]      expire at, ms since epoch (event time + TTL + grace, row-expiry.ts)
 *   ARGV[at+1]    the packed row: its first 16 bytes are the event and created times
 *
 * `checkPackedArgs(first)`: ARGV holds one row per KEYS[first..], each with a numeric expiry and
 * at least a header; an error reply, or nil. `putPacked(key, expiry, row, nowMs)`: SET key row
 * PXAT expiry (a numeric string or a Lua number); or, when the expiry is already past by Redis'
 * clock, DEL and keep nothing. 1 written, 3 expired. `writePackedIfNewer(key, expiry, row,
 * nowMs)`: putPacked only when the row's (event time, created time) is strictly greater than the
 * stored row's (GETRANGE of the 16-byte header, `struct.unpack('>dd')`), else 2 (skipped). Both
 * also return the change in the number of row keys (+1 a key created, -1 one deleted, else 0).
 * `redisNowMs()` is Redis' clock (TIME) in ms. `fenceOpen(marker)`: the rebuild's fence
 * (fresh-write-many.lua.ts) is open, the marker existing and recording no applied commit.
 * `countedRows(rowAt, fresh)`: writes the rows KEYS[3..] (KEYS[1] the count key, KEYS[2] its
 * uncounted key), `rowAt(k)` giving the expiry and packed bytes of KEYS[k]'s row, each put
 * plainly when `fresh`, else through writePackedIfNewer, counted; returns { written, skipped,
 * expired } and the error reply of a call stopped halfway (or nil). `fencedWrites(rowAt)`: the
 * rebuild's fenced write, countedRows with `fresh` = fenceOpen(KEYS[1]); returns { written,
 * skipped, expired, 1 when the fence was open else 0 } or the error reply.
 *
 * The count of a generation's row keys (the count key's `rows` field, the marker hash every write
 * of the generation names: the generation's marker, on Redis Cluster the bucket's marker): every
 * write adds the keys it created and subtracts those it deleted, in the same atomic step, so while
 * the field exists it is at least the number of row keys (Redis' own expiry only removes keys).
 * `countedWrites(countKey, uncountedKey, writes)` runs `writes(tally)` (which adds each row's
 * change to `tally.delta`) under Lua's pcall, so that a Redis error in the middle of a call still
 * counts the rows already written, then records the change and returns the error reply (or nil):
 * when the count key has its field, HINCRBY; when the count key is gone (Redis lost the
 * generation), a created key sets the uncounted key, and a marker created later over such keys
 * gets no count (MARK_GENERATION_LUA). A marker without the field (older generations, or one
 * recreated after a loss) is not counted at all: the keys are then counted by SCAN.
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
local function putPacked(key, expiry, row, nowMs)
  if tonumber(expiry) <= nowMs then
    return 3, -redis.call('DEL', key)
  end
  local old = redis.pcall('SET', key, row, 'PXAT', expiry, 'GET')
  if type(old) == 'table' and old.err then
    -- a key of another type (SET ... GET refuses it): it existed, and SET replaces it
    redis.call('SET', key, row, 'PXAT', expiry)
    return 1, 0
  end
  if old then return 1, 0 end
  return 1, 1
end
local function writePackedIfNewer(key, expiry, row, nowMs)
  local stored = redis.call('GETRANGE', key, 0, 15)
  if #stored == 16 then
    local storedEventTime, storedCreatedTime = struct.unpack('>dd', stored)
    local eventTime, createdTime = struct.unpack('>dd', row)
    if eventTime < storedEventTime then return 2, 0 end
    if eventTime == storedEventTime and createdTime <= storedCreatedTime then return 2, 0 end
  end
  return putPacked(key, expiry, row, nowMs)
end
local function fenceOpen(marker)
  return redis.call('EXISTS', marker) == 1 and (tonumber(redis.call('HGET', marker, '${MARKER_APPLIED_FIELD}') or '0') or 1) == 0
end
local function countedWrites(countKey, uncountedKey, writes)
  local counted = redis.call('HEXISTS', countKey, '${MARKER_ROWS_FIELD}') == 1
  local tally = { delta = 0 }
  local ok, failure = pcall(writes, tally)
  if tally.delta ~= 0 then
    if counted then redis.call('HINCRBY', countKey, '${MARKER_ROWS_FIELD}', tally.delta)
    elseif tally.delta > 0 and redis.call('EXISTS', countKey) == 0 then redis.call('SET', uncountedKey, '1') end
  end
  if ok then return nil end
  if type(failure) == 'table' and failure.err then return failure end
  return redis.error_reply(tostring(failure))
end
local function countedRows(rowAt, fresh)
  local nowMs = redisNowMs()
  local counts = { 0, 0, 0 }
  local failure = countedWrites(KEYS[1], KEYS[2], function(tally)
    for k = 3, #KEYS do
      local expiry, row = rowAt(k)
      local outcome, change
      if fresh then outcome, change = putPacked(KEYS[k], expiry, row, nowMs) else outcome, change = writePackedIfNewer(KEYS[k], expiry, row, nowMs) end
      counts[outcome] = counts[outcome] + 1
      tally.delta = tally.delta + change
    end
  end)
  return counts, failure
end
local function fencedWrites(rowAt)
  local fresh = fenceOpen(KEYS[1])
  local counts, failure = countedRows(rowAt, fresh)
  if failure then return failure end
  counts[4] = fresh and 1 or 0
  return counts
end
`;

/**
 * The monotonic write of layout 2, the one place that decides whether a packed row replaces the
 * stored one: many rows per call, each row's check and replace one atomic step (the call is).
 *
 * KEYS[1]     the count key: the generation's marker hash; on Redis Cluster the bucket's marker
 *             hash (in the rows' slot, key-layout.ts bucketMarkerKey)
 * KEYS[2]     its uncounted key (key-layout.ts uncountedKey)
 * KEYS[3..n]  the row keys, one per row, all of one bucket (one hash tag: one Cluster slot); a key
 *             may appear twice, the later row compared against what the earlier one left
 * ARGV        per row, in KEYS order: expire at, packed row (PACKED_ROW_LUA)
 *
 * A row applies only when its (event time, created time) is strictly greater than the stored
 * pair (or nothing is stored); it then replaces the row whole (SET ... PXAT), a null being an
 * absent feature in its bitmap. ARGV is checked whole before anything is written; the keys
 * created and deleted are counted (PACKED_ROW_LUA countedWrites). Returns { written, skipped
 * (not newer), expired (applied but nothing kept) }.
 */
export const PACKED_WRITE_MANY_LUA = `${PACKED_ROW_LUA}
local malformed = checkPackedArgs(3)
if malformed then return malformed end
local counts, failure = countedRows(function(k) return ARGV[2 * k - 5], ARGV[2 * k - 4] end, false)
if failure then return failure end
return counts
`;

export const PACKED_WRITE_MANY_COMMAND = 'granaryPackedWriteMany';

/**
 * The rebuild's write into the generation it builds, layout 2 (fresh-write-many.lua.ts is the
 * same for layout 1; the fence is explained there): while the generation's marker exists and
 * records no applied commit, each row is put plainly (SET ... PXAT, no read); once it records one,
 * or when it is gone, through the monotonic write. Decided once per call, atomically with it.
 * This one takes its rows as JS values give them (writePacked); rows packed from Arrow (the
 * rebuild's build) go through packed-fresh-write-blob.lua.ts, the same write with a call's rows
 * in one argument.
 *
 * KEYS[1]     the generation's marker hash; on Redis Cluster the bucket's marker hash (in the
 *             rows' slot, key-layout.ts bucketMarkerKey), so the fence is kept per bucket; also
 *             the count key (PACKED_ROW_LUA)
 * KEYS[2]     its uncounted key (key-layout.ts uncountedKey)
 * KEYS[3..n]  the row keys of one bucket, each entity at most once
 * ARGV        per row: expire at, packed row
 *
 * Returns { written, skipped, expired, 1 when the fence was open else 0 }.
 */
export const PACKED_FRESH_WRITE_MANY_LUA = `${PACKED_ROW_LUA}
local malformed = checkPackedArgs(3)
if malformed then return malformed end
return fencedWrites(function(k) return ARGV[2 * k - 5], ARGV[2 * k - 4] end)
`;

export const PACKED_FRESH_WRITE_MANY_COMMAND = 'granaryPackedFreshWriteMany';

/**
 * The repair write of layout 2 (replace-row.lua.ts is the same for layout 1): replaces (or
 * deletes) one row whatever its times, if the stored row still has the times the caller read.
 *
 * KEYS[1]  the row key
 * KEYS[2], KEYS[3]  the count key and its uncounted key (PACKED_ROW_LUA; the marker hash, on
 *          Redis Cluster the row's bucket's)
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
local result
local failure = countedWrites(KEYS[2], KEYS[3], function(tally)
  if ARGV[3] == 'none' then
    tally.delta = -redis.call('DEL', key)
    result = 3
    return
  end
  local outcome, change = putPacked(key, ARGV[4], ARGV[5], redisNowMs())
  tally.delta = change
  if outcome == 1 then result = 1 else result = 2 end
end)
if failure then return failure end
return result
`;

export const PACKED_REPLACE_ROW_COMMAND = 'granaryPackedReplaceRow';

/**
 * Writes a generation's marker if it has none: created at, and the layout it gets. An existing
 * marker is left whole (its applied seq, its count and its layout: a layout-1 marker stays
 * layout 1). A new layout-2 marker starts the count of the generation's row keys at 0
 * (PACKED_ROW_LUA), unless rows were written while it was gone (the uncounted key): those keys
 * are then counted by SCAN.
 *
 * KEYS[1]  the marker hash
 * KEYS[2]  its uncounted key (key-layout.ts uncountedKey)
 * ARGV[1]  '1' to count the generation's row keys (layout 2), else '0'
 * ARGV[2..]  field, value, ... (createdAt, layout, buckets)
 *
 * Returns 1 when written, 0 when a marker was there.
 */
export const MARK_GENERATION_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
if ARGV[1] == '1' and redis.call('EXISTS', KEYS[2]) == 0 then redis.call('HSET', KEYS[1], '${MARKER_ROWS_FIELD}', '0') end
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
