import KernelsAVX2

/// Activations quantized on the fly for integer dot products: blocks of 32 values, each with a
/// float scale, 32 int8 values and the sum of each half (16 values), which the weight types with
/// offsets or minimums need.
public struct QuantizedActivations {
    public let count: Int
    public let scales: UnsafeMutablePointer<Float>
    public let values: UnsafeMutablePointer<Int8>
    public let halfSums: UnsafeMutablePointer<Int16>
    /// scale × (sum of the block's 32 values): what a weight minimum multiplies.
    public let blockSums: UnsafeMutablePointer<Float>
    /// `scales` and `blockSums` of a batch regrouped block-major ([block][token]), so a kernel can load
    /// the scales of consecutive tokens as one vector (filled by `regroup`).
    public let scalesByBlock: UnsafeMutablePointer<Float>
    public let sumsByBlock: UnsafeMutablePointer<Float>

    public init(capacity count: Int) {
        precondition(count % 32 == 0, "activation length must be a multiple of 32")
        self.count = count
        scales = .allocate(capacity: count / 32)
        values = .allocate(capacity: count)
        halfSums = .allocate(capacity: count / 16)
        blockSums = .allocate(capacity: count / 32)
        scalesByBlock = .allocate(capacity: count / 32)
        sumsByBlock = .allocate(capacity: count / 32)
    }

    public func deallocate() {
        scales.deallocate()
        values.deallocate()
        halfSums.deallocate()
        blockSums.deallocate()
        scalesByBlock.deallocate()
        sumsByBlock.deallocate()
    }

    /// Fills the block-major copies for `tokens` vectors of `columns` values each.
    public func regroup(tokens: Int, columns: Int) {
        let blocks = columns / 32
        for t in 0..<tokens {
            for b in 0..<blocks {
                scalesByBlock[b * tokens + t] = scales[t * blocks + b]
                sumsByBlock[b * tokens + t] = blockSums[t * blocks + b]
            }
        }
    }

    /// Quantizes `count` floats into the blocks starting at value `offset`:
    /// scale = max |x| / 127, values rounded to nearest.
    public func quantize(_ x: UnsafePointer<Float>, into offset: Int = 0, count: Int) {
        if CPUFeatures.useAVX2 {
            quantizeAVX2(x, into: offset, count: count)
        } else {
            quantizePortable(x, into: offset, count: count)
        }
    }

    func quantizeAVX2(_ x: UnsafePointer<Float>, into offset: Int, count: Int) {
        precondition(offset % 32 == 0 && count % 32 == 0 && offset + count <= self.count)
        let b = offset / 32
        AVX2Quantize.blocks(x, count: count, scales: scales + b, values: values + offset, halfSums: halfSums + 2 * b,
                            blockSums: blockSums + b)
    }

    func quantizePortable(_ x: UnsafePointer<Float>, into offset: Int, count: Int) {
        precondition(offset % 32 == 0 && count % 32 == 0 && offset + count <= self.count)
        for blockIndex in 0..<(count / 32) {
            let src = x + 32 * blockIndex
            let b = offset / 32 + blockIndex
            var amax: Float = 0
            for j in 0..<32 { amax = max(amax, abs(src[j])) }
            let d = amax / 127
            let inv: Float = d == 0 ? 0 : 1 / d
            scales[b] = d
            let dst = values + 32 * b
            var s0: Int16 = 0, s1: Int16 = 0
            for j in 0..<32 {
                let v = src[j] * inv
                let q = Int8(v >= 0 ? v + 0.5 : v - 0.5)  // rounds half away from zero, without a libm call
                dst[j] = q
                if j < 16 { s0 &+= Int16(q) } else { s1 &+= Int16(q) }
            }
            halfSums[2 * b] = s0
            halfSums[2 * b + 1] = s1
            blockSums[b] = d * Float(Int32(s0) + Int32(s1))
        }
    }
}
