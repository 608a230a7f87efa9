import { MARKER_APPLIED_FIELD } from './key-layout.ts';

/**
 * Records on a generation's marker the last commit seq applied to it, monotonically: raises the
 * marker's applied seq, never lowers it, in one step inside Redis.
 *
 * KEYS[1]  the generation's marker hash (key-layout.ts)
 * ARGV[1]  the commit seq just applied (decimal)
 *
 * Returns the applied seq after the call (ARGV[1] when it was higher, else the stored one), or
 * -1 when the marker is gone: Redis lost the generation, and nothing is written.
 */
export const RECORD_APPLIED_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local stored = tonumber(redis.call('HGET', KEYS[1], '${MARKER_APPLIED_FIELD}') or '0')
local seq = tonumber(ARGV[1])
if seq > stored then
  redis.call('HSET', KEYS[1], '${MARKER_APPLIED_FIELD}', ARGV[1])
  return seq
end
return stored
`;

/** The name the script is defined under (ioredis defineCommand). */
export const RECORD_APPLIED_COMMAND = 'granaryRecordApplied';
