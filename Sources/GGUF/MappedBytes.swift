#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Read-only bytes that stay valid for the object's lifetime: a memory-mapped file, or an owned
/// copy (for files built in memory by tests).
public final class MappedBytes: @unchecked Sendable {
    public let buffer: UnsafeRawBufferPointer
    private let isMapped: Bool
    /// Set for views that borrow another object's memory.
    private let owner: MappedBytes?

    /// Maps the whole file read-only.
    public init(path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw GGUFError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw GGUFError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw GGUFError.cannotOpen(path: path, reason: "not a regular file") }
        let size = Int(info.st_size)
        if size == 0 {
            buffer = UnsafeRawBufferPointer(start: nil, count: 0)
            isMapped = false
            owner = nil
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw GGUFError.cannotOpen(path: path, reason: "mmap failed: " + String(cString: strerror(errno)))
        }
        buffer = UnsafeRawBufferPointer(start: p, count: size)
        isMapped = true
        owner = nil
    }

    /// Copies `bytes` into memory owned by this object.
    public init(copying bytes: [UInt8]) {
        let p = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
        bytes.withUnsafeBytes { src in p.baseAddress!.copyMemory(from: src.baseAddress ?? UnsafeRawPointer(p.baseAddress!), byteCount: bytes.count) }
        buffer = UnsafeRawBufferPointer(start: p.baseAddress, count: bytes.count)
        isMapped = false
        owner = nil
    }

    private init(viewOf owner: MappedBytes, count: Int) {
        buffer = UnsafeRawBufferPointer(rebasing: owner.buffer[0..<count])
        isMapped = false
        self.owner = owner
    }

    /// The first `count` bytes, sharing this object's memory (used to test truncated files).
    public func prefix(_ count: Int) -> MappedBytes {
        MappedBytes(viewOf: self, count: min(max(count, 0), buffer.count))
    }

    deinit {
        guard owner == nil, let base = buffer.baseAddress else { return }
        if isMapped {
            munmap(UnsafeMutableRawPointer(mutating: base), buffer.count)
        } else {
            base.deallocate()
        }
    }
}
