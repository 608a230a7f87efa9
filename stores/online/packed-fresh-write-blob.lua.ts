import { PACKED_ROW_LUA } from './packed-write-many.lua.ts';

/** Bytes before each row's packed bytes in the blob: the expiry (big-endian double) and the row's length (big-endian uint32). */
export const BLOB_ROW_HEADER_BYTES = 12;

/**
 * The rebuild's fenced write of rows packed from Arrow (writeNewRows with an Arrow source, what
 * its build sends): PACKED_FRESH_WRITE_MANY_LUA (packed-write-many.lua.ts) with the call's rows in
 * one argument. The same fence, the same plain put while it is open, the same monotonic rule once
 * it is closed or gone, the same count of the generation's row keys, the same counts returned
 * (PACKED_ROW_LUA's fencedWrites); only the encoding of ARGV
 * differs, so the client sends one Buffer per call instead of two arguments per row (less of
 * ioredis' encoding per row in the worker: bench/build-write.ts).
 *
 * KEYS[1]     the generation's marker hash (on Cluster the bucket's marker hash): the fence and
 *             the count key
 * KEYS[2]     its uncounted key (key-layout.ts uncountedKey)
 * KEYS[3..n]  the row keys of one bucket, each entity at most once
 * ARGV[1]     per row, in KEYS order: expire at (ms since epoch, big-endian double), the packed
 *             row's length (big-endian uint32), the packed row (its first 16 bytes the event and
 *             created times, packed-row-codec.ts)
 *
 * The blob is checked whole before anything is written: a row without a finite expiry, a length
 * of at least 16 and its bytes, or bytes left after the last row, is refused naming the row. The
 * expiry goes to SET ... PXAT as a Lua number (Redis formats it %.17g: exact for ms).
 * Returns { written, skipped, expired, 1 when the fence was open else 0 }.
 */
export const PACKED_FRESH_WRITE_BLOB_LUA = `${PACKED_ROW_LUA}
local rows = #KEYS - 2
if #ARGV ~= 1 then
  return redis.error_reply('granary packed blob write: ' .. rows .. ' rows need 1 argument, got ' .. #ARGV)
end
local blob = ARGV[1]
local size = #blob
local at = 1
for r = 1, rows do
  local expiry, length
  if at + ${BLOB_ROW_HEADER_BYTES - 1} <= size then expiry, length = struct.unpack('>dI4', blob, at) end
  if not expiry or expiry ~= expiry or expiry == math.huge or expiry == -math.huge or length < 16 or at + ${BLOB_ROW_HEADER_BYTES - 1} + length > size then
    return redis.error_reply('granary packed write: row ' .. r .. ' (' .. KEYS[r + 2] .. ') has no numeric expiry and packed row')
  end
  at = at + ${BLOB_ROW_HEADER_BYTES} + length
end
if at ~= size + 1 then
  return redis.error_reply('granary packed blob write: ' .. (size + 1 - at) .. ' bytes after the last of ' .. rows .. ' rows')
end
local from = 1
return fencedWrites(function()
  local expiry, length, first = struct.unpack('>dI4', blob, from)
  from = first + length
  return expiry, string.sub(blob, first, from - 1)
end)
`;

export const PACKED_FRESH_WRITE_BLOB_COMMAND = 'granaryPackedFreshWriteBlob';
