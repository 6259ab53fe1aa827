/// A bounds-checked little-endian cursor over a byte buffer. Every read checks the remaining
/// length first, so a hostile file can only produce a `GGUFError`, never an out-of-bounds read.
struct ByteReader {
    let base: UnsafeRawBufferPointer
    private(set) var offset: Int

    init(_ base: UnsafeRawBufferPointer, offset: Int = 0) {
        self.base = base
        self.offset = offset
    }

    var remaining: Int { base.count - offset }

    private mutating func take(_ n: Int, _ what: @autoclosure () -> String) throws -> Int {
        guard n >= 0, n <= remaining else {
            throw GGUFError.truncated(what: what(), offset: offset, needed: n, fileSize: base.count)
        }
        defer { offset += n }
        return offset
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        let at = try take(MemoryLayout<T>.size, what())
        return T(littleEndian: base.loadUnaligned(fromByteOffset: at, as: T.self))
    }

    mutating func readFloat(_ what: @autoclosure () -> String) throws -> Float {
        Float(bitPattern: try read(UInt32.self, what()))
    }

    mutating func readDouble(_ what: @autoclosure () -> String) throws -> Double {
        Double(bitPattern: try read(UInt64.self, what()))
    }

    /// A length-prefixed string; invalid UTF-8 is repaired rather than rejected.
    mutating func readString(_ what: @autoclosure () -> String) throws -> String {
        let lengthOffset = offset
        let length = try read(UInt64.self, what())
        guard length <= UInt64(remaining) else {
            throw GGUFError.truncated(what: what(), offset: lengthOffset, needed: Int(clamping: length), fileSize: base.count)
        }
        let at = try take(Int(length), what())
        return String(decoding: UnsafeRawBufferPointer(rebasing: base[at..<(at + Int(length))]), as: UTF8.self)
    }

    /// Checks that `count` items of at least `minimumSize` bytes each could fit in the rest of the
    /// file, so a forged count cannot trigger a huge allocation.
    func checkCount(_ count: UInt64, minimumSize: Int, _ what: String) throws {
        let (bytes, overflow) = count.multipliedReportingOverflow(by: UInt64(max(minimumSize, 1)))
        if overflow || bytes > UInt64(remaining) {
            throw GGUFError.impossibleCount(what: what, count: count, offset: offset)
        }
    }
}
