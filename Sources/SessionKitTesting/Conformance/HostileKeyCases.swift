import Foundation
import SessionKit

extension SessionStoreConformance {
    /// Key names and values that stores have mishandled: characters with a meaning in JSON
    /// paths, SQL or Lua, NUL in values, long names, and more keys than a Lua `unpack` or an
    /// SQLite function call takes. Every key the engine accepts must round-trip through create,
    /// update, remove and rotate, each under its own name.
    static let hostileKeyCases: [Case] = [
        Case(name: "hostile key names and values round-trip under their own names") { store, clock in
            let id = newID()
            var data: [String: Data] = [:]
            for (index, key) in hostileKeys.enumerated() { data[key] = json(String(index)) }
            data["nul in value"] = json("\"a\\u0000b\"")
            data["escaped in value"] = json("\"\\\\u0000 \\\" \\\\\"")
            // Looks like the PostgreSQL store's NUL wrapper; must come back as itself.
            data["wrapper look-alike"] = json("{\"\\u0001sk.raw\":\"aGk=\"}")
            try await store.create(id, makeRecord(clock, data: data))
            try expectData(try await store.load(id), data, "created hostile keys")

            var changed = data
            var set: [String: Data] = [:]
            for (index, key) in hostileKeys.enumerated() where index.isMultiple(of: 2) {
                set[key] = json("\"changed \(index)\"")
                changed[key] = set[key]
            }
            let removed = Set(hostileKeys.enumerated().filter { !$0.offset.isMultiple(of: 2) }.map(\.element))
            for key in removed { changed[key] = nil }
            try expect(try await store.update(id, makeUpdate(clock, set: set, remove: removed)), "update of hostile keys reported the record gone")
            try expectData(try await store.load(id), changed, "hostile keys after set and remove")

            let rotated = newID()
            try expect(try await store.rotate(id, to: rotated, record: makeRecord(clock, data: changed)), "rotate with hostile keys failed")
            try expectData(try await store.load(rotated), changed, "hostile keys after rotate")
        },
        Case(name: "5,000 keys round-trip through create, update, remove and rotate") { store, clock in
            let count = 5_000
            let id = newID()
            let data = Dictionary(uniqueKeysWithValues: (0..<count).map { ("k\($0)", json(String($0))) })
            try await store.create(id, makeRecord(clock, data: data))
            try expectEqual(try await store.load(id)?.data.count, count, "keys after create")

            let set = Dictionary(uniqueKeysWithValues: (count..<2 * count).map { ("k\($0)", json(String($0))) })
            try expect(
                try await store.update(id, makeUpdate(clock, set: set, remove: Set(data.keys))),
                "update of 5,000 keys reported the record gone"
            )
            try expectData(try await store.load(id), set, "keys after replacing all 5,000")

            let rotated = newID()
            try expect(try await store.rotate(id, to: rotated, record: makeRecord(clock, data: data)), "rotate with 5,000 keys failed")
            try expectData(try await store.load(rotated), data, "keys after rotate")
        },
    ]

    /// Names with a meaning somewhere: JSON-path and SQL quoting, escapes that alias a reserved
    /// name, Lua patterns, percent signs, the Redis store's field prefixes, control
    /// characters, emoji, a decomposed accent and a 1 KB name. (The engine refuses names with
    /// NUL, see `SessionKey`; values with NUL must round-trip.)
    static let hostileKeys: [String] = [
        "back\\slash", "ends with a backslash\\", "\\", "\\\\", "\\u005fsk.csrf", "_sk.csrf", "\\\"", "\"quoted\"", "\"",
        "'single'", "it's", "dot.ted", ".", "..", "$", "$.a", "$[0]", "[0]", "a[1]", "a.b[2].c", "%s%n", "%00", "%", "*", "?",
        "--", ";", "tab\tnew\nline", "\u{7f}", "🔑👩‍👩‍👧", "é", "e\u{301}x", "\u{301}starts with a combining mark", "\u{200D}zwj", "key:with:colons",
        "d:prefixed", "m:e", String(repeating: "k", count: 1024), " ",
    ]
}
