import { MARKER_APPLIED_FIELD } from './key-layout.ts';
import { PACKED_ROW_LUA } from './packed-write-many.lua.ts';

/**
 * The rebuild's fenced write of layout 2 (PACKED_FRESH_WRITE_MANY_LUA) with every row of a call
 * in one argument: the client sends a key per row and one Buffer, not a key, an expiry and a row
 * per row (ioredis' cost is per argument, and so is Redis' conversion of ARGV to Lua strings).
 *
 * KEYS[1]     the generation's marker hash
 * KEYS[2..n]  the row keys of one bucket, each entity at most once
 * ARGV[1]     the rows, in KEYS order, each: 1 byte L, the expiry (ms since epoch) as L ASCII
 *             digits, a 4-byte big-endian length R, then the R bytes of the packed row
 *             (packBlob in packed-blob.ts writes this)
 *
 * The blob is parsed whole, and refused with an error naming the row, before anything is
 * written. Then as the fenced write: while the marker exists and records no applied commit,
 * each row is put plainly (SET ... PXAT); once it records one, or when it is gone, through the
 * monotonic write (writePackedRowIfNewer: only a strictly newer (event time, created time)
 * replaces), so a zombie build attempt during the catch-up never overwrites a newer row. The
 * fence is read once per call, atomically with the writes.
 *
 * Returns { written, skipped, expired, 1 when the fence was open else 0 }.
 */
export const PACKED_BLOB_FRESH_WRITE_LUA = `${PACKED_ROW_LUA}
local blob = ARGV[1]
if #ARGV ~= 1 or not blob then return redis.error_reply('granary packed blob write: one argument expected, got ' .. #ARGV) end
local expiries, rows = {}, {}
local at, size = 1, #blob
for k = 2, #KEYS do
  local row = k - 1
  if at > size then return redis.error_reply('granary packed blob write: the blob ends before row ' .. row .. ' (' .. KEYS[k] .. ')') end
  local digits = string.byte(blob, at)
  local expireAt = string.sub(blob, at + 1, at + digits)
  if at + digits + 4 > size or not tonumber(expireAt) then
    return redis.error_reply('granary packed blob write: row ' .. row .. ' (' .. KEYS[k] .. ') has no numeric expiry')
  end
  local length = struct.unpack('>I4', blob, at + digits + 1)
  local first = at + digits + 5
  if length < 16 or first + length - 1 > size then
    return redis.error_reply('granary packed blob write: row ' .. row .. ' (' .. KEYS[k] .. ') has no packed row of ' .. length .. ' bytes')
  end
  expiries[row] = expireAt
  rows[row] = string.sub(blob, first, first + length - 1)
  at = first + length
end
if at ~= size + 1 then return redis.error_reply('granary packed blob write: ' .. (size + 1 - at) .. ' byte(s) after the last of ' .. (#KEYS - 1) .. ' rows') end
local nowMs = redisNowMs()
local fresh = redis.call('EXISTS', KEYS[1]) == 1 and (tonumber(redis.call('HGET', KEYS[1], '${MARKER_APPLIED_FIELD}') or '0') or 1) == 0
local counts = { 0, 0, 0, fresh and 1 or 0 }
for k = 2, #KEYS do
  local outcome
  if fresh then outcome = putPackedRow(KEYS[k], expiries[k - 1], rows[k - 1], nowMs) else outcome = writePackedRowIfNewer(KEYS[k], expiries[k - 1], rows[k - 1], nowMs) end
  counts[outcome] = counts[outcome] + 1
end
return counts
`;

export const PACKED_BLOB_FRESH_WRITE_COMMAND = 'granaryPackedBlobFreshWrite';
