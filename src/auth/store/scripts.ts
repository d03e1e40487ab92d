// Lua scripts for the state changes that must be atomic across several keys (docs/storage.md).
// Records are never re-encoded inside Lua (cjson would turn [] into {}); scripts only move
// opaque strings and markers.

/**
 * KEYS: code, code-used marker. ARGV: marker value (what this redemption issues), marker TTL ms.
 * When the redemption starts a refresh-token family, KEYS[3..6] and ARGV[3..7] are CREATE_FAMILY's
 * KEYS and ARGV: the family is created by the redemption that consumes the code, in the same step,
 * and by no other (a replay or an invalid code creates nothing).
 * Returns {"ok", record} | {"replayed", marker} | {"invalid", ""}.
 */
export const REDEEM_CODE = `
local record = redis.call('GETDEL', KEYS[1])
if record then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
  if #KEYS == 6 then
    local px = tonumber(ARGV[5])
    redis.call('SET', KEYS[3], ARGV[3], 'PX', px)
    redis.call('SET', KEYS[4], ARGV[4], 'PX', px)
    redis.call('HSET', KEYS[5], ARGV[6], ARGV[7])
    redis.call('HSET', KEYS[6], ARGV[7], ARGV[6])
    for i = 5, 6 do
      if redis.call('PTTL', KEYS[i]) < px then redis.call('PEXPIRE', KEYS[i], px) end
    end
  end
  return {'ok', record}
end
local used = redis.call('GET', KEYS[2])
if used then return {'replayed', used} end
return {'invalid', ''}
`;

/**
 * Rotation with reuse detection (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2).
 * KEYS: family's current token hash, family-revoked marker, the same marker under the family's
 * reference (what access tokens carry as `fam`), the family's rotated-out tokens (a hash), the
 * retry record of the presented token.
 * ARGV: presented token hash, next token hash, access-token TTL ms, rotation record (opaque),
 * retry record ("<next hash> <sealed successor>", opaque after the space), grace window ms.
 * KEYS[6]: the family's last-used time; ARGV[7]: now, ms since the epoch (the grant's "last used").
 * Returns {"ok"|"reused"|"revoked"|"invalid", ""} | {"retry", sealed successor}.
 * Only the current token rotates; it then joins the rotated-out tokens, which live as long as
 * the family, and with a grace window its retry record lives that long. A rotated-out token
 * whose retry record still names the current token is a retry of that rotation and gets its
 * successor back; any other rotated-out token is a reuse and revokes the family; any other
 * token changes nothing. The revoked markers outlive both the refresh tokens and the access tokens.
 *
 * With KEYS[7..9] (family record, the presenting client's grant index, the store's epoch) and
 * ARGV[8] (family id), the script first checks that the family exists and that the presenting
 * client is the family's (the family is in that client's index, written with the family by
 * CREATE_FAMILY), and returns the sealed record and the epoch as a third and fourth element: the
 * lookup and the rotation in one store request. A missing family is {"invalid", ""}; a family not
 * in that index (another client's, or one created before the indexes existed) is
 * {"unchecked", ""}: nothing changed, the caller decides from the record (the two-step path).
 */
export const ROTATE_REFRESH = `
local extra = {}
if #KEYS == 9 then
  local record = redis.call('GET', KEYS[7])
  if not record then return {'invalid', ''} end
  if redis.call('HEXISTS', KEYS[8], ARGV[8]) == 0 then return {'unchecked', ''} end
  extra = {record, redis.call('GET', KEYS[9]) or ''}
end
local function answer(status, payload) return {status, payload, extra[1], extra[2]} end
if redis.call('EXISTS', KEYS[2]) == 1 then return answer('revoked', '') end
local current = redis.call('GET', KEYS[1])
if not current then return answer('invalid', '') end
local left = redis.call('PTTL', KEYS[1])
if left < 1 then left = tonumber(ARGV[3]) end
if current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  redis.call('SET', KEYS[6], ARGV[7], 'PX', left)
  redis.call('HSET', KEYS[4], ARGV[1], ARGV[4])
  redis.call('PEXPIRE', KEYS[4], left)
  local grace = tonumber(ARGV[6])
  if grace > 0 then redis.call('SET', KEYS[5], ARGV[5], 'PX', math.min(grace, left)) end
  return answer('ok', '')
end
if redis.call('HEXISTS', KEYS[4], ARGV[1]) == 1 then
  local retry = redis.call('GET', KEYS[5])
  if retry then
    local space = string.find(retry, ' ', 1, true)
    if space and string.sub(retry, 1, space - 1) == current then return answer('retry', string.sub(retry, space + 1)) end
  end
  local px = math.max(left, tonumber(ARGV[3]))
  redis.call('SET', KEYS[2], '1', 'PX', px)
  redis.call('SET', KEYS[3], '1', 'PX', px)
  return answer('reused', '')
end
return answer('invalid', '')
`;

/**
 * A new refresh-token family, entered in its person's and its client's grant indexes in the same
 * step (docs/storage.md), so that no family exists that the indexes cannot find.
 * KEYS: family record, current token hash, the person's index, the client's index.
 * ARGV: sealed record (opaque), current token hash, TTL ms, family reference, family id.
 * An index lives as long as its longest-lived family: its TTL only ever grows. Returns 1.
 */
export const CREATE_FAMILY = `
local px = tonumber(ARGV[3])
redis.call('SET', KEYS[1], ARGV[1], 'PX', px)
redis.call('SET', KEYS[2], ARGV[2], 'PX', px)
redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
redis.call('HSET', KEYS[4], ARGV[5], ARGV[4])
for i = 3, 4 do
  if redis.call('PTTL', KEYS[i]) < px then redis.call('PEXPIRE', KEYS[i], px) end
end
return 1
`;

/**
 * Marks everything issued to a client or a person up to now as revoked (the admin API,
 * docs/auth/grants-and-admin.md). KEYS: the marker. ARGV: now in seconds, TTL ms.
 * A marker only moves forward, and lives at least as long as anything it covers. Returns 1.
 */
export const REVOKE_BEFORE = `
local before = tonumber(redis.call('GET', KEYS[1]) or '0')
local px = math.max(redis.call('PTTL', KEYS[1]), tonumber(ARGV[2]))
redis.call('SET', KEYS[1], tostring(math.max(before, tonumber(ARGV[1]))), 'PX', px)
return 1
`;

/**
 * The store's epoch, created when absent (docs/reliability/store-faults.md). KEYS: epoch. ARGV: a new epoch.
 * Returns {epoch, 1 when this call created it else 0}.
 */
export const EPOCH = `
local epoch = redis.call('GET', KEYS[1])
if epoch then return {epoch, 0} end
redis.call('SET', KEYS[1], ARGV[1])
return {ARGV[1], 1}
`;

/**
 * KEYS: family record, current token hash, family-revoked marker, the same marker under the
 * family's reference. ARGV: access TTL ms. Returns 1 when the family existed.
 */
export const REVOKE_FAMILY = `
local px = math.max(redis.call('PTTL', KEYS[2]), tonumber(ARGV[1]))
redis.call('SET', KEYS[3], '1', 'PX', px)
redis.call('SET', KEYS[4], '1', 'PX', px)
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

/**
 * Remembers a person's consent to a client, replacing what they had remembered for it
 * (docs/auth/connected-agents.md). KEYS: the person's consent hash. ARGV: the new consent's id,
 * its sealed record, the hash's TTL ms (the newest consent lives longest, so the hash lives as
 * long as it), then the ids of the consents it replaces. Returns 1.
 */
export const REMEMBER_CONSENT = `
for i = 4, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;
