/// The one hold-back rule for markers that a model's text may be cut in the middle of (stop strings,
/// `<think>`, tool-call tags): the characters at the end of a piece that may begin a marker wait for
/// the next piece before they are handed on.
public enum HoldBack {
    /// Length (in characters) of the longest end of `text` that is a proper beginning of one of `markers`.
    public static func count(in text: String, markers: [String]) -> Int {
        var best = 0
        for marker in markers where !marker.isEmpty {
            for n in stride(from: min(marker.count - 1, text.count), to: best, by: -1) where text.hasSuffix(marker.prefix(n)) {
                best = n
                break
            }
        }
        return best
    }
}
