import Foundation

/// A binary min-heap of (expiry, id) pairs with lazy invalidation.
///
/// The memory store pushes an entry whenever a record's expiry changes and tags it with the
/// record's generation; popping skips entries whose generation no longer matches. Sweeping is
/// therefore proportional to what expired (plus stale entries), never to what is stored, and
/// the soonest-to-expire record is always on top for eviction.
struct ExpiryHeap: Sendable {
    struct Entry: Sendable {
        var expiresAt: Double
        var id: SessionStorageID
        var generation: UInt32
    }

    private(set) var entries: [Entry] = []

    var count: Int { entries.count }
    var top: Entry? { entries.first }

    mutating func push(_ entry: Entry) {
        entries.append(entry)
        siftUp(entries.count - 1)
    }

    mutating func popTop() -> Entry? {
        guard let first = entries.first else { return nil }
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            siftDown(0)
        }
        return first
    }

    /// Rebuilds the heap from scratch (used to drop accumulated stale entries).
    mutating func rebuild(from live: [Entry]) {
        entries = live
        var index = entries.count / 2
        while index > 0 {
            index -= 1
            siftDown(index)
        }
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].expiresAt < entries[parent].expiresAt else { return }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        let count = entries.count
        while true {
            let left = parent * 2 + 1
            guard left < count else { return }
            var smallest = left
            let right = left + 1
            if right < count && entries[right].expiresAt < entries[left].expiresAt { smallest = right }
            guard entries[smallest].expiresAt < entries[parent].expiresAt else { return }
            entries.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
