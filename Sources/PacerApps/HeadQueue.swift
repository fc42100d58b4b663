/// A first-in first-out queue on an array and a head index: popping from the front of an array
/// of 50,000 events (or queued KILLs) on every turn cost more than handling them. The array is
/// compacted once its taken part is both large and most of it.
struct HeadQueue<Element> {
    private var items: [Element] = []
    private var head = 0

    var isEmpty: Bool { head == items.count }
    var count: Int { items.count - head }

    /// The element `offset` places after the next one.
    subscript(offset: Int) -> Element { items[head + offset] }

    mutating func append(_ e: Element) { items.append(e) }
    mutating func append(contentsOf s: some Sequence<Element>) { items.append(contentsOf: s) }

    /// Takes the next `n` elements.
    mutating func popFirst(_ n: Int) -> ArraySlice<Element> {
        let taken = items[head..<head + n]
        head += n
        if head == items.count {
            items = []
            head = 0
        } else if head > 1024 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return taken
    }
}

extension HeadQueue: Sendable where Element: Sendable {}
