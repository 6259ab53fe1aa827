/// Notices a degenerate loop: the generated tokens ending in one span repeated over and over. For
/// every period p up to `maxPeriod` it keeps how many of the latest tokens equal the token p
/// before them, so each new token costs `maxPeriod` comparisons and no allocation. A tail that
/// repeats with period p is a loop once it spans `max(minimumSpan, minimumRepeats × p)` tokens —
/// long enough that lists, tables and code with repeated lines are not mistaken for one.
public struct LoopDetector: Sendable {
    public let maxPeriod: Int
    public let minimumSpan: Int
    public let minimumRepeats: Int
    private var tokens: [Int32] = []
    private var runs: [Int]

    public init(maxPeriod: Int = 256, minimumSpan: Int = 128, minimumRepeats: Int = 4) {
        self.maxPeriod = maxPeriod
        self.minimumSpan = minimumSpan
        self.minimumRepeats = minimumRepeats
        runs = [Int](repeating: 0, count: maxPeriod + 1)
    }

    /// Adds a generated token; returns the loop's period when the tokens now end in a loop.
    public mutating func append(_ token: Int32) -> Int? {
        tokens.append(token)
        let n = tokens.count
        guard n > 1 else { return nil }
        var found: Int?
        for p in 1...min(maxPeriod, n - 1) {
            runs[p] = tokens[n - 1] == tokens[n - 1 - p] ? runs[p] + 1 : 0
            if found == nil && runs[p] + p >= max(minimumSpan, minimumRepeats * p) { found = p }
        }
        return found
    }
}
