import Engine
import Testing
import TestSupport

struct LoopDetectorTests {
    /// Feeds tokens; returns after how many the detector fired, and the period it saw.
    func firstLoop(_ tokens: [Int32], _ detector: LoopDetector = LoopDetector()) -> (at: Int, period: Int)? {
        var d = detector
        for (i, t) in tokens.enumerated() { if let p = d.append(t) { return (i + 1, p) } }
        return nil
    }

    @Test func aRepeatedSentenceIsCaughtOnceItSpansEnough() {
        let sentence: [Int32] = Array(100..<123)  // 23 tokens
        let text = Array(0..<40) + Array(repeating: sentence, count: 20).joined()
        let found = firstLoop(text)
        #expect(found?.period == 23)
        // 128 tokens of repetition: the sentence once, then 105 more tokens repeating it.
        #expect(found?.at == 40 + 23 + 105)
    }

    @Test func oneTokenOverAndOverIsALoop() {
        #expect(firstLoop(Array(repeating: 7, count: 300))?.at == 128)
    }

    @Test func longPeriodsNeedFourRepeats() {
        let paragraph = (0..<60).map { Int32($0 * 7 % 1000) }
        let found = firstLoop(Array(repeating: paragraph, count: 6).joined().map { $0 })
        #expect(found?.period == 60 && found?.at == 240)
    }

    @Test func ordinaryTextAndShortRepeatsAreNotLoops() {
        var random = SplitMix(seed: 3)
        let text = (0..<5000).map { _ in Int32(random.next() % 5000) }
        #expect(firstLoop(text) == nil)
        // A list whose items share their first tokens, and a line repeated three times.
        let list = (0..<40).flatMap { i -> [Int32] in [1, 2, 3, Int32(1000 + i), 4] }
        #expect(firstLoop(list) == nil)
        let line: [Int32] = Array(500..<540)
        #expect(firstLoop(Array(repeating: line, count: 3).joined().map { $0 }) == nil)
    }
}
