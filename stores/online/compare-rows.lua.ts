import { Buffer } from 'node:buffer';

/**
 * Verify's comparison, inside Redis: whether each row hash holds exactly the expected fields,
 * without shipping the values back. Reads only.
 *
 * KEYS[1..n]        the row hashes
 * ARGV[1]           f, the number of fields compared
 * ARGV[2..f+1]      the field names (event time, created time, then the features)
 * ARGV[f+2..f+n+1]  per key, the expected fields packed (packFields): field by field, in
 *                   ARGV[2..f+1] order, '-' for an absent field, else its byte length, ':', its value
 *
 * The script packs what HMGET returns the same way and compares the two strings: equal exactly
 * when every field is equal (the lengths make the packing unambiguous). Returns one character per
 * key: '0' same, '1' absent (no event time: no row), '2' differs.
 */
export const COMPARE_ROWS_LUA = `
local f = tonumber(ARGV[1])
if not f or #ARGV ~= 1 + f + #KEYS then
  return redis.error_reply('granary compare rows: ' .. #KEYS .. ' keys and ' .. tostring(ARGV[1]) .. ' fields do not fit ' .. #ARGV .. ' arguments')
end
local fields = {}
for i = 1, f do fields[i] = ARGV[1 + i] end
local out = {}
local parts = {}
for k = 1, #KEYS do
  local got = redis.call('HMGET', KEYS[k], unpack(fields))
  if not got[1] then
    out[k] = '1'
  else
    local n = 0
    for i = 1, f do
      local v = got[i]
      if v then
        parts[n + 1] = #v
        parts[n + 2] = ':'
        parts[n + 3] = v
        n = n + 3
      else
        parts[n + 1] = '-'
        n = n + 1
      end
    end
    if table.concat(parts, '', 1, n) == ARGV[1 + f + k] then out[k] = '0' else out[k] = '2' end
  end
end
return table.concat(out)
`;

/** The name the script is defined under (ioredis defineCommand; KEYS count passed per call). */
export const COMPARE_ROWS_COMMAND = 'granaryCompareRows';

/**
 * One field as COMPARE_ROWS_LUA packs it: '-' for none, else byte length ':' value. `ascii`
 * says the value has no character outside ASCII (its length is its byte length), saving a count.
 *
 * @example
 *   packField('12.5', true) + packField(null, true) // => '4:12.5-'
 */
export function packField(value: string | null, ascii: boolean): string {
  if (value === null) return '-';
  return `${ascii ? value.length : Buffer.byteLength(value)}:${value}`;
}
