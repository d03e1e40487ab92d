// Lua scripts for the state changes that must be atomic across several keys (house style §6).
// Records are never re-encoded inside Lua (cjson would turn [] into {}); scripts only move
// opaque strings and markers.

/**
 * KEYS: code, code-used marker. ARGV: marker value (what this redemption issues), marker TTL ms.
 * Returns {"ok", record} | {"replayed", marker} | {"invalid", ""}.
 */
export const REDEEM_CODE = `
local record = redis.call('GETDEL', KEYS[1])
if record then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
  return {'ok', record}
end
local used = redis.call('GET', KEYS[2])
if used then return {'replayed', used} end
return {'invalid', ''}
`;

/**
 * KEYS: family record, family's current token hash, family-revoked marker.
 * ARGV: presented token hash, next token hash, access-token TTL ms.
 * Returns {"ok", record} | {"reused", ""} | {"revoked", ""} | {"invalid", ""}.
 * The revoked marker outlives both the family's refresh tokens and its access tokens.
 */
export const ROTATE_REFRESH = `
if redis.call('EXISTS', KEYS[3]) == 1 then return {'revoked', ''} end
local current = redis.call('GET', KEYS[2])
if not current then return {'invalid', ''} end
if current ~= ARGV[1] then
  local px = math.max(redis.call('PTTL', KEYS[2]), tonumber(ARGV[3]))
  redis.call('SET', KEYS[3], '1', 'PX', px)
  return {'reused', ''}
end
redis.call('SET', KEYS[2], ARGV[2], 'KEEPTTL')
return {'ok', redis.call('GET', KEYS[1])}
`;

/** KEYS: family record, current token hash, family-revoked marker. ARGV: access TTL ms. Returns 1 when the family existed. */
export const REVOKE_FAMILY = `
local px = math.max(redis.call('PTTL', KEYS[2]), tonumber(ARGV[1]))
redis.call('SET', KEYS[3], '1', 'PX', px)
return redis.call('EXISTS', KEYS[1])
`;

/**
 * A fixed-window counter. KEYS: counter. ARGV: window ms, 1 to count or 0 to only read.
 * Returns {count, ms until the window ends}.
 */
export const COUNT_IN_WINDOW = `
local count
if ARGV[2] == '1' then
  count = redis.call('INCR', KEYS[1])
  if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
else
  count = tonumber(redis.call('GET', KEYS[1]) or '0')
end
local left = redis.call('PTTL', KEYS[1])
if left < 0 then left = 0 end
return {count, left}
`;
