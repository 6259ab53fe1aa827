/// One tensor's description from the file header.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// Sizes from the innermost (contiguous) dimension outwards, as GGUF stores them.
    public let dimensions: [Int]
    public let type: GGMLType
    /// Offset relative to the start of the data section.
    public let offset: UInt64
    public let elementCount: Int
    public let byteCount: Int
}

/// A parsed GGUF file (versions 2 and 3): metadata, tensor infos and the mapped tensor data.
/// Parsing validates everything a later reader relies on, so tensor data access cannot go out of bounds.
public final class GGUFFile: Sendable {
    public static let magic: UInt32 = 0x4655_4747  // "GGUF" read as little-endian
    public static let defaultAlignment = 32
    static let maxDimensions = 4
    static let maxArrayNesting = 8

    public let version: UInt32
    /// Metadata keys in file order.
    public let keys: [String]
    public let metadata: [String: GGUFValue]
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    /// Absolute file offset of the data section.
    public let dataOffset: Int
    public let bytes: MappedBytes
    private let tensorIndex: [String: Int]
    /// For a model published in parts: the files after this one, and which part holds each tensor
    /// (0 is this file). Empty for a single file.
    private let parts: [GGUFFile]
    private let tensorParts: [Int]

    /// Bytes of every part.
    public var fileSize: Int { bytes.buffer.count + parts.reduce(0) { $0 + $1.fileSize } }

    /// Takes a read lease on every part (`MappedBytes.takeReadLease`): `.busy` if one part is
    /// being written, else `.unavailable` if one part cannot be leased.
    public func takeReadLeases() -> MappedBytes.Lease {
        let leases = [bytes.takeReadLease()] + parts.map { $0.takeReadLeases() }
        return leases.contains(.busy) ? .busy : leases.contains(.unavailable) ? .unavailable : .taken
    }

    /// Whether another process is waiting to truncate or write one of the leased parts.
    public var isBeingChanged: Bool { bytes.isBeingChanged || parts.contains { $0.isBeingChanged } }

    /// Opens a GGUF file; the first part of a split model (`split.count` > 1 in its metadata) opens
    /// its sibling parts too (`NAME-0000k-of-0000n.gguf`, as llama.cpp's splitter names them).
    public convenience init(path: String) throws {
        let first = try GGUFFile(bytes: MappedBytes(path: path))
        guard let count = try first.integer("split.count"), count > 1 else {
            try self.init(first: first, parts: [])
            return
        }
        guard count <= 9999 else { throw GGUFError.badSplit("split.count is \(count)") }
        let suffix = Self.partSuffix(1, of: count)
        guard path.hasSuffix(suffix) else {
            throw GGUFError.badSplit("\(path) is part of a \(count)-part model but is not named like its first part (…\(suffix))")
        }
        let prefix = String(path.dropLast(suffix.count))
        let parts = try (2...count).map { try GGUFFile(bytes: MappedBytes(path: prefix + Self.partSuffix($0, of: count))) }
        try self.init(first: first, parts: parts)
    }

    /// `-00002-of-00003.gguf`.
    static func partSuffix(_ index: Int, of count: Int) -> String {
        func five(_ n: Int) -> String { String(repeating: "0", count: max(0, 5 - String(n).count)) + String(n) }
        return "-\(five(index))-of-\(five(count)).gguf"
    }

    /// The parts of a split model as one file: the first part's metadata, every part's tensors.
    private init(first: GGUFFile, parts: [GGUFFile]) throws {
        for (i, part) in parts.enumerated() {
            guard try part.integer("split.no") == i + 1, try part.integer("split.count") == parts.count + 1 else {
                throw GGUFError.badSplit("part \(i + 2) does not say it is part \(i + 2) of \(parts.count + 1)")
            }
        }
        version = first.version
        keys = first.keys
        metadata = first.metadata
        alignment = first.alignment
        dataOffset = first.dataOffset
        bytes = first.bytes
        var tensors = first.tensors
        var tensorParts = [Int](repeating: 0, count: tensors.count)
        var index = first.tensorIndex
        for (p, part) in parts.enumerated() {
            for t in part.tensors {
                guard index.updateValue(tensors.count, forKey: t.name) == nil else { throw GGUFError.duplicateTensor(t.name) }
                tensors.append(t)
                tensorParts.append(p + 1)
            }
        }
        self.tensors = tensors
        self.tensorIndex = index
        self.parts = parts
        self.tensorParts = tensorParts
    }

    public convenience init(data: [UInt8]) throws {
        try self.init(bytes: MappedBytes(copying: data))
    }

    public init(bytes: MappedBytes) throws {
        self.bytes = bytes
        parts = []
        var r = ByteReader(bytes.buffer)
        let magic = try r.read(UInt32.self, "magic")
        guard magic == Self.magic else { throw GGUFError.badMagic(found: magic) }
        version = try r.read(UInt32.self, "version")
        guard version == 2 || version == 3 else { throw GGUFError.unsupportedVersion(version) }
        let tensorCount = try r.read(UInt64.self, "tensor count")
        let kvCount = try r.read(UInt64.self, "metadata count")
        // A key-value pair takes at least 13 bytes, a tensor info at least 24.
        try r.checkCount(kvCount, minimumSize: 13, "metadata count")

        var keys: [String] = []
        var metadata: [String: GGUFValue] = [:]
        keys.reserveCapacity(Int(kvCount))
        for i in 0..<kvCount {
            let key = try r.readString("key of metadata entry \(i)")
            let rawType = try r.read(UInt32.self, "type of '\(key)'")
            guard let type = GGUFValueType(rawValue: rawType) else { throw GGUFError.unknownValueType(rawType, key: key) }
            let value = try Self.readValue(&r, type: type, key: key, depth: 0)
            guard metadata.updateValue(value, forKey: key) == nil else { throw GGUFError.duplicateKey(key) }
            keys.append(key)
        }
        self.keys = keys
        self.metadata = metadata

        var alignment = Self.defaultAlignment
        if let a = metadata["general.alignment"] {
            guard let v = a.integer, v > 0, v <= 65536, v & (v - 1) == 0 else {
                throw GGUFError.badAlignment(UInt64(clamping: a.integer ?? 0))
            }
            alignment = Int(v)
        }
        self.alignment = alignment

        try r.checkCount(tensorCount, minimumSize: 24, "tensor count")
        var infos: [GGUFTensorInfo] = []
        var index: [String: Int] = [:]
        infos.reserveCapacity(Int(tensorCount))
        for i in 0..<tensorCount {
            let name = try r.readString("name of tensor \(i)")
            let info = try Self.readTensorInfo(&r, name: name, alignment: alignment)
            guard index.updateValue(infos.count, forKey: name) == nil else { throw GGUFError.duplicateTensor(name) }
            infos.append(info)
        }

        let headerEnd = r.offset
        let padded = (headerEnd + alignment - 1) / alignment * alignment
        dataOffset = infos.isEmpty ? min(padded, bytes.buffer.count) : padded
        let dataSize = UInt64(max(bytes.buffer.count - dataOffset, 0))
        if !infos.isEmpty && dataOffset > bytes.buffer.count {
            throw GGUFError.truncated(what: "data section", offset: headerEnd, needed: padded - headerEnd, fileSize: bytes.buffer.count)
        }
        for t in infos {
            let (end, overflow) = t.offset.addingReportingOverflow(UInt64(t.byteCount))
            if overflow || end > dataSize {
                throw GGUFError.tensorOutOfBounds(tensor: t.name, offset: t.offset, size: UInt64(t.byteCount), dataSize: dataSize)
            }
        }
        tensors = infos
        tensorIndex = index
        tensorParts = [Int](repeating: 0, count: infos.count)
    }

    private static func readValue(_ r: inout ByteReader, type: GGUFValueType, key: String, depth: Int) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try r.read(UInt8.self, key))
        case .int8: return .int8(try r.read(Int8.self, key))
        case .uint16: return .uint16(try r.read(UInt16.self, key))
        case .int16: return .int16(try r.read(Int16.self, key))
        case .uint32: return .uint32(try r.read(UInt32.self, key))
        case .int32: return .int32(try r.read(Int32.self, key))
        case .uint64: return .uint64(try r.read(UInt64.self, key))
        case .int64: return .int64(try r.read(Int64.self, key))
        case .float32: return .float32(try r.readFloat(key))
        case .float64: return .float64(try r.readDouble(key))
        case .bool: return .bool(try r.read(UInt8.self, key) != 0)
        case .string: return .string(try r.readString(key))
        case .array:
            guard depth < maxArrayNesting else { throw GGUFError.nestingTooDeep(key: key) }
            let rawType = try r.read(UInt32.self, "element type of '\(key)'")
            guard let elementType = GGUFValueType(rawValue: rawType) else { throw GGUFError.unknownValueType(rawType, key: key) }
            let count = try r.read(UInt64.self, "element count of '\(key)'")
            try r.checkCount(count, minimumSize: elementType.minimumSize, "element count of '\(key)'")
            var items: [GGUFValue] = []
            items.reserveCapacity(Int(count))
            for _ in 0..<count {
                items.append(try readValue(&r, type: elementType, key: key, depth: depth + 1))
            }
            return .array(elementType, items)
        }
    }

    private static func readTensorInfo(_ r: inout ByteReader, name: String, alignment: Int) throws -> GGUFTensorInfo {
        let nDims = try r.read(UInt32.self, "dimension count of '\(name)'")
        guard nDims >= 1, nDims <= UInt32(maxDimensions) else {
            throw GGUFError.badDimensions(tensor: name, reason: "\(nDims) dimensions (1 to \(maxDimensions) allowed)")
        }
        var dims: [Int] = []
        var elements: UInt64 = 1
        for d in 0..<Int(nDims) {
            let size = try r.read(UInt64.self, "dimension \(d) of '\(name)'")
            guard size >= 1, size <= UInt64(Int64.max) else {
                throw GGUFError.badDimensions(tensor: name, reason: "dimension \(d) is \(size)")
            }
            let (product, overflow) = elements.multipliedReportingOverflow(by: size)
            guard !overflow, product <= UInt64(Int64.max) else {
                throw GGUFError.badDimensions(tensor: name, reason: "element count overflows")
            }
            elements = product
            dims.append(Int(size))
        }
        let rawType = try r.read(UInt32.self, "type of '\(name)'")
        guard let type = GGMLType(rawValue: rawType) else { throw GGUFError.unknownTensorType(rawType, tensor: name) }
        let offset = try r.read(UInt64.self, "offset of '\(name)'")
        guard dims[0] % type.blockGeometry.elements == 0 else {
            throw GGUFError.badDimensions(tensor: name, reason: "row of \(dims[0]) is not a multiple of the \(type.name) block size \(type.blockGeometry.elements)")
        }
        guard let bytes = type.byteCount(elements: elements), bytes <= UInt64(Int64.max) else {
            throw GGUFError.badDimensions(tensor: name, reason: "byte size overflows")
        }
        guard offset % UInt64(alignment) == 0 else {
            throw GGUFError.badDimensions(tensor: name, reason: "data offset \(offset) is not aligned to \(alignment)")
        }
        return GGUFTensorInfo(name: name, dimensions: dims, type: type, offset: offset, elementCount: Int(elements), byteCount: Int(bytes))
    }

    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The tensor's bytes inside the mapping (valid while this file object lives).
    public func data(of tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        if let i = tensorIndex[tensor.name], tensorParts[i] > 0 { return parts[tensorParts[i] - 1].data(of: tensor) }
        let start = dataOffset + Int(tensor.offset)
        return UnsafeRawBufferPointer(rebasing: bytes.buffer[start..<(start + tensor.byteCount)])
    }
}
