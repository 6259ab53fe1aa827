/// Builds GGUF files in memory: used by tests to make small synthetic models and corrupt variants.
public struct GGUFWriter {
    public var version: UInt32 = 3
    public var alignment: Int = GGUFFile.defaultAlignment
    private var entries: [(String, GGUFValue)] = []
    private var tensors: [(name: String, dimensions: [Int], type: GGMLType, data: [UInt8])] = []

    public init() {}

    public mutating func set(_ key: String, _ value: GGUFValue) {
        if let i = entries.firstIndex(where: { $0.0 == key }) {
            entries[i].1 = value
        } else {
            entries.append((key, value))
        }
    }

    public mutating func set(_ key: String, strings: [String]) { set(key, .array(.string, strings.map(GGUFValue.string))) }
    public mutating func set(_ key: String, floats: [Float]) { set(key, .array(.float32, floats.map(GGUFValue.float32))) }
    public mutating func set(_ key: String, int32s: [Int32]) { set(key, .array(.int32, int32s.map(GGUFValue.int32))) }

    /// Adds a tensor whose raw bytes are already in `type`'s layout.
    /// (Replaces a tensor of the same name, as `set` replaces a key.)
    public mutating func addTensor(_ name: String, dimensions: [Int], type: GGMLType, data: [UInt8]) {
        if let i = tensors.firstIndex(where: { $0.name == name }) {
            tensors[i] = (name, dimensions, type, data)
        } else {
            tensors.append((name, dimensions, type, data))
        }
    }

    public mutating func addTensor(_ name: String, dimensions: [Int], floats: [Float]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(floats.count * 4)
        for f in floats { append(&bytes, f.bitPattern) }
        addTensor(name, dimensions: dimensions, type: .f32, data: bytes)
    }

    public func bytes() -> [UInt8] {
        var out: [UInt8] = []
        append(&out, GGUFFile.magic)
        append(&out, version)
        append(&out, UInt64(tensors.count))
        var all = entries
        if alignment != GGUFFile.defaultAlignment && !all.contains(where: { $0.0 == "general.alignment" }) {
            all.append(("general.alignment", .uint32(UInt32(alignment))))
        }
        append(&out, UInt64(all.count))
        for (key, value) in all {
            appendString(&out, key)
            append(&out, value.type.rawValue)
            appendValue(&out, value)
        }
        var offset = 0
        var offsets: [Int] = []
        for t in tensors {
            offsets.append(offset)
            offset += (t.data.count + alignment - 1) / alignment * alignment
        }
        for (t, off) in zip(tensors, offsets) {
            appendString(&out, t.name)
            append(&out, UInt32(t.dimensions.count))
            for d in t.dimensions { append(&out, UInt64(d)) }
            append(&out, t.type.rawValue)
            append(&out, UInt64(off))
        }
        pad(&out)
        for t in tensors {
            out += t.data
            pad(&out)
        }
        return out
    }

    private func pad(_ out: inout [UInt8]) {
        while out.count % alignment != 0 { out.append(0) }
    }

    private func appendValue(_ out: inout [UInt8], _ value: GGUFValue) {
        switch value {
        case .uint8(let v): append(&out, v)
        case .int8(let v): append(&out, v)
        case .uint16(let v): append(&out, v)
        case .int16(let v): append(&out, v)
        case .uint32(let v): append(&out, v)
        case .int32(let v): append(&out, v)
        case .uint64(let v): append(&out, v)
        case .int64(let v): append(&out, v)
        case .float32(let v): append(&out, v.bitPattern)
        case .float64(let v): append(&out, v.bitPattern)
        case .bool(let v): append(&out, UInt8(v ? 1 : 0))
        case .string(let s): appendString(&out, s)
        case .array(let type, let items):
            append(&out, type.rawValue)
            append(&out, UInt64(items.count))
            for item in items { appendValue(&out, item) }
        }
    }

    private func appendString(_ out: inout [UInt8], _ s: String) {
        let utf8 = Array(s.utf8)
        append(&out, UInt64(utf8.count))
        out += utf8
    }

    private func append<T: FixedWidthInteger>(_ out: inout [UInt8], _ v: T) {
        withUnsafeBytes(of: v.littleEndian) { out += $0 }
    }
}
