/// One step of the chain that shapes the logits before a token is chosen (penalties, biases, a
/// grammar's mask), told afterwards which token was chosen.
public protocol LogitsProcessor {
    /// Changes the logits for the next token; `history`: the prompt and the tokens generated so far.
    mutating func apply(_ logits: inout [Float], history: [Int32])
    /// Takes note of the token chosen.
    mutating func accept(_ token: Int32)
}

/// Repetition, presence and frequency penalties over the last `penaltyWindow` tokens.
struct RepetitionPenalties: LogitsProcessor {
    let repetition: Float
    let presence: Float
    let frequency: Float
    /// Tokens looked at (−1: all).
    let window: Int

    func apply(_ logits: inout [Float], history: [Int32]) {
        guard repetition != 1 || presence != 0 || frequency != 0, window != 0 else { return }
        let recent = window < 0 ? history[...] : history.suffix(window)
        var counts: [Int32: Int] = [:]
        for t in recent { counts[t, default: 0] += 1 }
        for (t, n) in counts where t >= 0 && Int(t) < logits.count {
            var l = logits[Int(t)]
            if repetition != 1 { l = l > 0 ? l / repetition : l * repetition }
            l -= presence + Float(n) * frequency
            logits[Int(t)] = l
        }
    }

    func accept(_ token: Int32) {}
}

/// Fixed amounts added to given tokens' logits (−∞ bans a token).
struct LogitBias: LogitsProcessor {
    let bias: [Int32: Float]

    func apply(_ logits: inout [Float], history: [Int32]) {
        for (id, amount) in bias where id >= 0 && Int(id) < logits.count { logits[Int(id)] += amount }
    }

    func accept(_ token: Int32) {}
}
