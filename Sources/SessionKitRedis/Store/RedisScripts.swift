import Crypto

/// The Lua scripts the Redis store runs with `EVALSHA` (falling back to `EVAL` once per
/// server after a restart or `SCRIPT FLUSH`). Each makes one lifecycle step atomic and costs
/// one round trip. All take the caller's clock as `ARGV[1]` (milliseconds), so expiry is
/// judged by the same clock as every other store, while the key's own `PEXPIREAT` makes
/// Redis delete it by itself.
///
/// Hash fields: `d:<key>` holds a session value (JSON); `m:c` created, `m:l` last seen,
/// `m:i` idle expiry, `m:a` absolute expiry, `m:e` effective expiry (all milliseconds),
/// `m:u` user, `m:g` user agent, `m:v` version. Fields are written and deleted 500 pairs (1,000
/// arguments) per call, because Lua's `unpack` stops at about 8,000 values.
struct RedisScript: Sendable {
    let source: String
    let sha1: String

    init(_ source: String) {
        self.source = source
        self.sha1 = Insecure.SHA1.hash(data: Array(source.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// A Lua function for the scripts: `call(command, key, first, last)` runs `command key
    /// ARGV[first…last]` in calls of at most 1,000 arguments.
    static let chunkedCall = """
        local function call(command, key, first, last)
          for from = first, last, 1000 do redis.call(command, key, unpack(ARGV, from, math.min(from + 999, last))) end
        end

        """

    /// KEYS: session[, user set]. ARGV: now, expires, absolute, index member, field, value, …
    /// Returns 1, or 0 when a live record has the ID.
    static let create = RedisScript(
        chunkedCall + """
            local e = redis.call('HGET', KEYS[1], 'm:e')
            if e and tonumber(e) > tonumber(ARGV[1]) then return 0 end
            redis.call('DEL', KEYS[1])
            call('HSET', KEYS[1], 5, #ARGV)
            redis.call('PEXPIREAT', KEYS[1], ARGV[2])
            if KEYS[2] then
              redis.call('SADD', KEYS[2], ARGV[4])
              redis.call('PEXPIREAT', KEYS[2], ARGV[3], 'NX')
              redis.call('PEXPIREAT', KEYS[2], ARGV[3], 'GT')
            end
            return 1
            """
    )

    /// KEYS: user set. ARGV: member, absolute expiry. Adds a session to a user's index, for a
    /// cluster where the session's key is in another slot.
    static let index = RedisScript(
        """
        redis.call('SADD', KEYS[1], ARGV[1])
        redis.call('PEXPIREAT', KEYS[1], ARGV[2], 'NX')
        redis.call('PEXPIREAT', KEYS[1], ARGV[2], 'GT')
        return 1
        """
    )

    /// KEYS: new session, old session[, user set]. ARGV: now, expires, absolute, new index
    /// member, old index member, field, value, … Returns 1; 0 when the new ID is taken; -1 when the old
    /// session is gone (nothing written).
    static let rotate = RedisScript(
        chunkedCall + """
            local old = redis.call('HGET', KEYS[2], 'm:e')
            if not old or tonumber(old) <= tonumber(ARGV[1]) then return -1 end
            local e = redis.call('HGET', KEYS[1], 'm:e')
            if e and tonumber(e) > tonumber(ARGV[1]) then return 0 end
            redis.call('DEL', KEYS[1])
            call('HSET', KEYS[1], 6, #ARGV)
            redis.call('PEXPIREAT', KEYS[1], ARGV[2])
            redis.call('DEL', KEYS[2])
            if KEYS[3] then
              redis.call('SREM', KEYS[3], ARGV[5])
              redis.call('SADD', KEYS[3], ARGV[4])
              redis.call('PEXPIREAT', KEYS[3], ARGV[3], 'NX')
              redis.call('PEXPIREAT', KEYS[3], ARGV[3], 'GT')
            end
            return 1
            """
    )

    /// A sign-in under the per-user cap, in one step on the user's slot.
    ///
    /// KEYS: new session, user set, then one key per local member, then the old session
    /// when it is replaced in this step. ARGV: now, expires, absolute, new member, old member
    /// or '', user, max, 'evict' or 'refuse', local member count m, the m local members, foreign
    /// count f, f pairs (member, created ms, or -1 when not live) of sessions indexed
    /// elsewhere (the index from before placements), then field, value, …
    ///
    /// Returns {1, {evicted local members}, {foreign members to evict}}; {0} when the new ID
    /// is taken; {-1} when the old session is gone; {2} when the set lists a member the caller
    /// did not pass (read it again); {3} refused. Nothing is written unless it returns 1.
    static let signIn = RedisScript(
        chunkedCall + """
            local now = tonumber(ARGV[1])
            local m = tonumber(ARGV[9])
            local oldKey = nil
            if ARGV[5] ~= '' and #KEYS > 2 + m then oldKey = KEYS[#KEYS] end
            if oldKey then
              local old = redis.call('HGET', oldKey, 'm:e')
              if not old or tonumber(old) <= now then return {-1} end
            end
            local e = redis.call('HGET', KEYS[1], 'm:e')
            if e and tonumber(e) > now then return {0} end
            local f = tonumber(ARGV[10 + m])
            local foreign = 11 + m
            local passed = {}
            for i = 1, m do passed[ARGV[9 + i]] = true end
            for i = 0, f - 1 do passed[ARGV[foreign + 2 * i]] = true end
            for _, member in ipairs(redis.call('SMEMBERS', KEYS[2])) do
              if not passed[member] and member ~= ARGV[5] then return {2} end
            end
            local live, stale = {}, {}
            for i = 1, m do
              local member = ARGV[9 + i]
              if member ~= ARGV[5] then
                local meta = redis.call('HMGET', KEYS[2 + i], 'm:e', 'm:c', 'm:u')
                if meta[1] and tonumber(meta[1]) > now and meta[3] == ARGV[6] then
                  table.insert(live, {tonumber(meta[2]), member, KEYS[2 + i]})
                else
                  table.insert(stale, member)
                end
              end
            end
            for i = 0, f - 1 do
              local member = ARGV[foreign + 2 * i]
              local created = tonumber(ARGV[foreign + 2 * i + 1])
              if member ~= ARGV[5] and created >= 0 then
                table.insert(live, {created, member, false})
              else
                table.insert(stale, member)
              end
            end
            local over = #live + 1 - tonumber(ARGV[7])
            if over > 0 and ARGV[8] == 'refuse' then return {3} end
            table.sort(live, function(a, b)
              if a[1] ~= b[1] then return a[1] < b[1] end
              return string.sub(a[2], 1, 64) < string.sub(b[2], 1, 64)
            end)
            local evicted, elsewhere = {}, {}
            for i = 1, over do
              if live[i][3] then
                redis.call('DEL', live[i][3])
                table.insert(stale, live[i][2])
                table.insert(evicted, live[i][2])
              else
                table.insert(elsewhere, live[i][2])
              end
            end
            redis.call('DEL', KEYS[1])
            call('HSET', KEYS[1], foreign + 2 * f, #ARGV)
            redis.call('PEXPIREAT', KEYS[1], ARGV[2])
            if oldKey then redis.call('DEL', oldKey) end
            if ARGV[5] ~= '' then table.insert(stale, ARGV[5]) end
            for _, member in ipairs(stale) do redis.call('SREM', KEYS[2], member) end
            redis.call('SADD', KEYS[2], ARGV[4])
            redis.call('PEXPIREAT', KEYS[2], ARGV[3], 'NX')
            redis.call('PEXPIREAT', KEYS[2], ARGV[3], 'GT')
            return {1, evicted, elsewhere}
            """
    )

    /// KEYS: session. ARGV: now, expected version or '', idle expiry, last seen, set count,
    /// field, value, …, removed count, field, …
    /// Returns 1 applied | 0 gone | -1 version conflict. With no fields it is a touch.
    static let update = RedisScript(
        chunkedCall + """
            local meta = redis.call('HMGET', KEYS[1], 'm:e', 'm:v', 'm:a')
            if not meta[1] or tonumber(meta[1]) <= tonumber(ARGV[1]) then return 0 end
            if ARGV[2] ~= '' and ARGV[2] ~= meta[2] then return -1 end
            local sets = tonumber(ARGV[5])
            call('HSET', KEYS[1], 6, 5 + 2 * sets)
            local i = 6 + 2 * sets
            local removed = tonumber(ARGV[i])
            call('HDEL', KEYS[1], i + 1, i + removed)
            local expires = ARGV[3]
            if tonumber(meta[3]) < tonumber(ARGV[3]) then expires = meta[3] end
            redis.call('HSET', KEYS[1], 'm:i', ARGV[3], 'm:e', expires, 'm:l', ARGV[4])
            redis.call('HINCRBY', KEYS[1], 'm:v', 1)
            redis.call('PEXPIREAT', KEYS[1], expires)
            return 1
            """
    )

    /// KEYS: session. ARGV: now, idle expiry, last seen, field, '1' when a value is expected
    /// (else '0'), expected value, '1' to set (else '0' to remove), new value.
    /// Returns {1, version} applied | {0} gone | {-1[, current value]} the field holds another value.
    static let compareAndSet = RedisScript(
        """
        local meta = redis.call('HMGET', KEYS[1], 'm:e', 'm:a', ARGV[4])
        if not meta[1] or tonumber(meta[1]) <= tonumber(ARGV[1]) then return {0} end
        local expected = false
        if ARGV[5] == '1' then expected = ARGV[6] end
        if meta[3] ~= expected then
          if meta[3] then return {-1, meta[3]} end
          return {-1}
        end
        if ARGV[7] == '1' then redis.call('HSET', KEYS[1], ARGV[4], ARGV[8]) else redis.call('HDEL', KEYS[1], ARGV[4]) end
        \(touchAndBump)
        return {1, version}
        """
    )

    /// KEYS: session. ARGV: now, idle expiry, last seen, field, delta.
    /// Returns {1, new value, version} | {0} gone | {-1} the field is not a JSON integer or
    /// the sum overflows (`HINCRBY`'s own checks).
    static let increment = RedisScript(
        """
        local meta = redis.call('HMGET', KEYS[1], 'm:e', 'm:a', ARGV[4])
        if not meta[1] or tonumber(meta[1]) <= tonumber(ARGV[1]) then return {0} end
        if meta[3] and meta[3] ~= '0' and not string.match(meta[3], '^%-?[1-9]%d*$') then return {-1} end
        local sum = redis.pcall('HINCRBY', KEYS[1], ARGV[4], ARGV[5])
        if type(sum) == 'table' and sum.err then return {-1} end
        \(touchAndBump)
        return {1, redis.call('HGET', KEYS[1], ARGV[4]), version}
        """
    )

    /// The tail both single-key scripts share: move the idle expiry (never past the absolute
    /// one, `meta[2]`) and last seen from ARGV[2] and ARGV[3], bump the version into `version`.
    private static let touchAndBump = """
        local expires = ARGV[2]
          if tonumber(meta[2]) < tonumber(ARGV[2]) then expires = meta[2] end
          redis.call('HSET', KEYS[1], 'm:i', ARGV[2], 'm:e', expires, 'm:l', ARGV[3])
          local version = redis.call('HINCRBY', KEYS[1], 'm:v', 1)
          redis.call('PEXPIREAT', KEYS[1], expires)
        """

    /// KEYS: session. ARGV: now. Deletes the session; returns 1 if it was live.
    static let deleteReportingLive = RedisScript(
        """
        local e = redis.call('HGET', KEYS[1], 'm:e')
        redis.call('DEL', KEYS[1])
        if e and tonumber(e) > tonumber(ARGV[1]) then return 1 end
        return 0
        """
    )
}
