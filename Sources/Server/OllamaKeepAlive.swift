import Templates

/// Ollama's `keep_alive`: how long a model stays loaded once a request leaves it idle. Seconds as a
/// number, or a duration such as "5m", "1h30m", "90s"; negative: for good; zero: unloaded at once.
enum OllamaKeepAlive: Equatable {
    case seconds(Int)
    case forever

    /// nil when the request does not say.
    static func parse(_ value: Value?) throws -> OllamaKeepAlive? {
        switch value {
        case nil, .none?: return nil
        case .int(let n)?: return n < 0 ? .forever : .seconds(n)
        case .double(let d)?:
            guard d.isFinite else { throw invalid("a finite number of seconds") }
            return d < 0 ? .forever : .seconds(capped(d))
        case .string(let text)?:
            return try duration(text)
        default:
            throw invalid("a number of seconds or a duration such as \"5m\"")
        }
    }

    /// Go's duration syntax (what Ollama parses), or a bare number of seconds.
    static func duration(_ text: String) throws -> OllamaKeepAlive {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        let negative = rest.hasPrefix("-")
        if negative || rest.hasPrefix("+") { rest = rest.dropFirst() }
        if let whole = Double(rest), whole.isFinite { return negative ? .forever : .seconds(capped(whole)) }
        let units: [(String, Double)] = [("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600)]
        var total = 0.0
        guard !rest.isEmpty else { throw invalid("a duration such as \"5m\"") }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            rest = rest.dropFirst(number.count)
            guard let amount = Double(number), let unit = units.first(where: { rest.hasPrefix($0.0) }) else {
                throw invalid("a duration such as \"5m\" or \"1h30m\", not '\(text)'")
            }
            rest = rest.dropFirst(unit.0.count)
            total += amount * unit.1
        }
        return negative ? .forever : .seconds(capped(total))
    }

    /// Whole seconds (rounded up) of a non-negative amount, at most about 31 years.
    private static func capped(_ seconds: Double) -> Int { seconds >= 1e9 ? 1_000_000_000 : Int(seconds.rounded(.up)) }

    private static func invalid(_ what: String) -> APIError { APIError.invalid("'keep_alive' must be \(what).", param: "keep_alive") }

    /// The TTL it means (nil: no TTL).
    var ttl: Int? {
        switch self {
        case .seconds(let s): s
        case .forever: nil
        }
    }
}
