@testable import Engine
import Testing

struct ReplyStartTests {
    let starts: [[Int32]] = [[5, 6, 7], [5, 8], [9]]

    func allowed(after reply: [Int32]) -> [Int] {
        var logits = [Float](repeating: 1, count: 12)
        Generator.restrict(&logits, toContinue: reply, anyOf: starts)
        return logits.indices.filter { logits[$0].isFinite }
    }

    @Test func onlyTheNextTokensOfMatchingStartsRemain() {
        #expect(allowed(after: []) == [5, 9])
        #expect(allowed(after: [5]) == [6, 8])
        #expect(allowed(after: [5, 6]) == [7])
    }

    @Test func aCompletedStartFreesTheRest() {
        #expect(allowed(after: [5, 6, 7]).count == 12)
        #expect(allowed(after: [9, 1]).count == 12)
    }
}
