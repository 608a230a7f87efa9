import { CREATED_TIME_FIELD, EVENT_TIME_FIELD } from './key-layout.ts';
import { PUT_ROW_LUA } from './put-row.lua.ts';

/**
 * The repair write: replaces an entity's row whatever its times (or deletes it), as long as the
 * stored row is still the one the caller read, in one step inside Redis. The only write that may
 * lower a row's (event time, created time): `granary repair` uses it to put back the latest valid
 * committed row over one poisoned by a far-future time (pipelines/future-event-time.ts).
 * The compare keeps it safe next to materialization: a row written meanwhile (necessarily
 * newer, by the monotonic write) makes it return 'conflict', and the caller reads again.
 *
 * KEYS[1]  the row hash
 * ARGV[1]  the stored event time the caller read ('' when it read no row)
 * ARGV[2]  the stored created time the caller read ('' when it read no row)
 * ARGV[3]  'row' to write one, 'none' to delete
 * ARGV[4..] with 'row': the row, as the monotonic write takes it (put-row.lua.ts): event time,
 *           created time, expire at, number of field/value pairs, then the pairs
 *
 * Returns 1 written, 3 deleted, 2 written but already expired (nothing kept), -1 conflict.
 * One key only, so it runs unchanged on Redis Cluster.
 */
export const REPLACE_ROW_LUA = `${PUT_ROW_LUA}
local key = KEYS[1]
local stored = redis.call('HMGET', key, '${EVENT_TIME_FIELD}', '${CREATED_TIME_FIELD}')
if not stored[1] then
  if ARGV[1] ~= '' then return -1 end
elseif ARGV[1] == '' or tonumber(stored[1]) ~= tonumber(ARGV[1]) or (tonumber(stored[2]) or 0) ~= tonumber(ARGV[2]) then
  return -1
end
if ARGV[3] == 'none' then
  redis.call('DEL', key)
  return 3
end
return putRow(key, 4, redisNowMs())
`;

/** The name the script is registered under with ioredis `defineCommand`. */
export const REPLACE_ROW_COMMAND = 'granaryReplaceRow';

export const REPLACE_ROW_RESULT = { written: 1, expired: 2, deleted: 3, conflict: -1 } as const;
