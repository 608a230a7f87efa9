/**
 * Verify's comparison, inside Redis: whether each row hash holds exactly the expected fields,
 * without shipping the values back. Reads only.
 *
 * KEYS[1..n]    the row hashes
 * ARGV[1]       f, the number of fields compared
 * ARGV[2..f+1]  the field names (event time, created time, then the features)
 * then per key  its nulls: '' when every field is expected, else one character per field, '1'
 *               for a field expected absent (a null), '2' for one that cannot match (a value its
 *               codec refuses), '0' for the others; then the expected strings of its '0' fields
 *
 * Each field is compared as a string with what HMGET returns (a null with an absent field), so
 * "same" means readRows would give back exactly the expected row. Measured (10 features, 100
 * rows a call): ~10 us of Redis per row, HMGET included. Returns one character per key: '0'
 * same, '1' absent (no event time: no row), '2' differs.
 */
export const COMPARE_ROWS_LUA = `
local f = tonumber(ARGV[1])
if not f then return redis.error_reply('granary compare rows: no field count') end
local fields = {}
for i = 1, f do fields[i] = ARGV[1 + i] end
local out = {}
local at = f + 2
for k = 1, #KEYS do
  local got = redis.call('HMGET', KEYS[k], unpack(fields))
  local nulls = ARGV[at]
  at = at + 1
  local code = got[1] and '0' or '1'
  if nulls == '' then
    for i = 1, f do
      if got[i] ~= ARGV[at] then code = code == '1' and '1' or '2' end
      at = at + 1
    end
  else
    for i = 1, f do
      local b = string.byte(nulls, i)
      if b == 49 then
        if got[i] then code = code == '1' and '1' or '2' end
      elseif b == 50 then
        code = code == '1' and '1' or '2'
      else
        if got[i] ~= ARGV[at] then code = code == '1' and '1' or '2' end
        at = at + 1
      end
    end
  end
  out[k] = code
end
if at - 1 ~= #ARGV then
  return redis.error_reply('granary compare rows: ' .. #KEYS .. ' rows need ' .. (at - 1) .. ' arguments, got ' .. #ARGV)
end
return table.concat(out)
`;

/** The name the script is defined under (ioredis defineCommand; KEYS count passed per call). */
export const COMPARE_ROWS_COMMAND = 'granaryCompareRows';
