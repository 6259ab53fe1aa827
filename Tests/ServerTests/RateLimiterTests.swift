import Testing
@testable import Server

struct RateLimiterTests {
    @Test func aBurstUpToTheAllowanceThenTheSteadyRate() {
        let limiter = RateLimiter(perMinute: 60)
        let start = ContinuousClock.now
        for _ in 0..<60 { #expect(limiter.admit("a", now: start) == nil) }
        #expect(limiter.admit("a", now: start) == 1)  // one a second refills
        #expect(limiter.admit("b", now: start) == nil)  // keys are counted apart
        #expect(limiter.admit("a", now: start + .milliseconds(1100)) == nil)
        #expect(limiter.admit("a", now: start + .milliseconds(1200)) != nil)
        // Idle time refills up to the allowance, no further.
        let later = start + .seconds(3600)
        for _ in 0..<60 { #expect(limiter.admit("a", now: later) == nil) }
        #expect(limiter.admit("a", now: later) != nil)
    }

    @Test func retryAfterCountsTheWholeWait() {
        let limiter = RateLimiter(perMinute: 2)  // one every 30 s
        let start = ContinuousClock.now
        #expect(limiter.admit("k", now: start) == nil)
        #expect(limiter.admit("k", now: start) == nil)
        #expect(limiter.admit("k", now: start) == 30)
        #expect(limiter.admit("k", now: start + .seconds(20)) == 10)
    }
}
