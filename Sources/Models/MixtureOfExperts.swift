#if canImport(Glibc)
import Glibc
#endif
import Kernels

/// The mixture-of-experts feed-forward: each token's chosen experts run on the rows routed to them,
/// an expert's rows together as one matrix product (a prompt reads an expert's weights once for all
/// its tokens; generation reads only the chosen experts' weights).
extension Transformer {
    /// Runs the experts over the `n` normalised rows in `scratch.h`, leaving the weighted sums in
    /// `scratch.o`. Rows before `tiled` went through the eight-token kernels in the dense products and
    /// do so here too, whatever else shares the step: an expert's such rows are padded to a multiple
    /// of eight with copies, so a token rounds the same alone or beside others.
    func mixtureOfExperts(_ w: ExpertWeights, rows n: Int, tiled: Int) {
        let c = config, s = scratch, e = c.embeddingLength, ff = c.feedForwardLength
        guard let routing = c.experts, let x = s.experts else { preconditionFailure("not a mixture-of-experts model") }
        project(w.router, s.h, tokens: n, tiled: tiled, into: x.logits, bias: w.routerBias)
        x.route(rows: n, routing: routing)
        s.o.update(repeating: 0, count: n * e)
        for expert in 0..<routing.count {
            let listed = x.counts[expert]
            guard listed > 0 else { continue }
            let list = x.rows + expert * x.capacity, weights = x.weights + expert * x.capacity
            var head = 0
            while head < listed && Int(list[head]) < tiled { head += 1 }
            let padded = (head + 7) / 8 * 8, total = padded + listed - head
            for g in 0..<total {
                let i = g < head ? g : g < padded ? head - 1 : g - padded + head
                (x.input + g * e).update(from: s.h + Int(list[i]) * e, count: e)
            }
            project(w.gate[expert], x.input, tokens: total, tiled: padded, into: s.gate, bias: w.gateBias?[expert])
            project(w.up[expert], x.input, tokens: total, tiled: padded, into: s.up, bias: w.upBias?[expert])
            activate(s.gate, s.up, count: total * ff)
            project(w.down[expert], s.gate, tokens: total, tiled: padded, into: x.output, bias: w.downBias?[expert])
            for i in 0..<listed {
                let g = i < head ? i : i - head + padded
                VectorOps.addScaled(s.o + Int(list[i]) * e, x.output + g * e, weights[i], count: e)
            }
        }
    }

    /// Working memory of the expert feed-forward for a step of up to `capacity` rows.
    final class ExpertScratch {
        let capacity: Int
        /// The router's scores, one row of `count` per token.
        let logits: UnsafeMutablePointer<Float>
        /// Per expert: how many rows chose it, and those rows (ascending) with their weights, each
        /// expert's list in a slot of `capacity`.
        let counts: UnsafeMutablePointer<Int>
        let rows: UnsafeMutablePointer<Int32>
        let weights: UnsafeMutablePointer<Float>
        /// An expert's gathered input rows and its output rows (up to seven padding rows more).
        let input: UnsafeMutablePointer<Float>
        let output: UnsafeMutablePointer<Float>
        private let chosen: UnsafeMutablePointer<Int32>
        private let taken: UnsafeMutablePointer<Bool>

        init(routing: ExpertRouting, embedding e: Int, capacity: Int) {
            self.capacity = capacity
            logits = .allocate(capacity: capacity * routing.count)
            counts = .allocate(capacity: routing.count)
            rows = .allocate(capacity: routing.count * capacity)
            weights = .allocate(capacity: routing.count * capacity)
            input = .allocate(capacity: (capacity + 7) * e)
            output = .allocate(capacity: (capacity + 7) * e)
            chosen = .allocate(capacity: routing.used)
            taken = .allocate(capacity: routing.count)
            taken.initialize(repeating: false, count: routing.count)
        }

        /// Chooses each row's `used` highest-scoring experts (the lower index first on a tie, NaN last) and
        /// files the row under each of them with the softmax of the chosen scores as its weight.
        func route(rows n: Int, routing: ExpertRouting) {
            let count = routing.count, used = routing.used
            counts.update(repeating: 0, count: count)
            for t in 0..<n {
                let scores = logits + t * count
                for k in 0..<used {
                    var best = -1
                    for j in 0..<count where !taken[j] && (best < 0 || scores[j] > scores[best] || scores[best].isNaN) { best = j }
                    taken[best] = true
                    chosen[k] = Int32(best)
                }
                let top = scores[Int(chosen[0])]
                var sum: Float = 0
                for k in 0..<used { sum += expf(scores[Int(chosen[k])] - top) }
                for k in 0..<used {
                    let j = Int(chosen[k])
                    taken[j] = false
                    rows[j * capacity + counts[j]] = Int32(t)
                    weights[j * capacity + counts[j]] = expf(scores[j] - top) / sum
                    counts[j] += 1
                }
            }
        }

        deinit {
            logits.deallocate(); counts.deallocate(); rows.deallocate(); weights.deallocate()
            input.deallocate(); output.deallocate(); chosen.deallocate(); taken.deallocate()
        }
    }
}
