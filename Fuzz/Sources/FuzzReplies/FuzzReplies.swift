import FuzzEntry
@testable import Server

/// A model's reply text as the server reads it while it streams: the first byte chooses the tool
/// call format and whether the reply starts in reasoning, the rest is fed in pieces whose sizes the
/// input also chooses (a call's markup split anywhere), then finished. Covers the reasoning
/// splitter, every tool-call format's parser, the JSON value scanner and harmony's channels.
func fuzzReplies(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    guard let first = bytes.first else { return 0 }
    let formats: [ToolCallFormat] = [.hermes, .mistral, .json, .harmony, .functools]
    let format = formats[Int(first) % formats.count]
    var parser = ChatStreamParser(format: format, tools: ["weather", "search"], parseTools: first & 8 == 0, parallelToolCalls: first & 16 == 0,
                                  heldCalls: .none, startsInReasoning: first & 32 != 0)
    let text = String(decoding: bytes.dropFirst(), as: UTF8.self)
    var rest = Substring(text)
    var piece = Int(first >> 6) + 1
    while !rest.isEmpty {
        let cut = rest.index(rest.startIndex, offsetBy: min(piece, rest.count))
        _ = parser.feed(String(rest[..<cut]))
        rest = rest[cut...]
        piece = piece % 7 + 1
    }
    _ = parser.finish()
    return 0
}

@main struct Entry {
    static func main() { runFuzzer { data, size in data.map { fuzzReplies(UnsafeRawPointer($0), size) } ?? 0 } }
}
