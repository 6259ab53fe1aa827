#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Read-only bytes that stay valid for the object's lifetime: a memory-mapped file, or an owned
/// copy (for files built in memory by tests).
///
/// A mapped file's descriptor stays open while it is mapped, so that a read lease can be taken on
/// it: a file truncated in place under its mapping would make every later read of the lost pages
/// raise SIGBUS, and with a lease the process truncating or opening the file for writing waits
/// (up to the kernel's `lease-break-time`, 45 s by default) until this mapping is released, while
/// the owner sees `isBeingChanged` and can let go of it.
public final class MappedBytes: @unchecked Sendable {
    public let buffer: UnsafeRawBufferPointer
    private let isMapped: Bool
    /// The mapped file's descriptor (-1 for owned copies and views).
    private let descriptor: Int32
    /// Set for views that borrow another object's memory.
    private let owner: MappedBytes?

    /// Maps the whole file read-only.
    public init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw GGUFError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw GGUFError.cannotOpen(path: path, reason: reason)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw GGUFError.cannotOpen(path: path, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        owner = nil
        if size == 0 {
            close(fd)
            buffer = UnsafeRawBufferPointer(start: nil, count: 0)
            isMapped = false
            descriptor = -1
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw GGUFError.cannotOpen(path: path, reason: "mmap failed: " + reason)
        }
        buffer = UnsafeRawBufferPointer(start: p, count: size)
        isMapped = true
        descriptor = fd
    }

    /// What asking for a read lease gave.
    public enum Lease: Sendable, Equatable {
        case taken
        /// Another process has the file open for writing, or is waiting to change it.
        case busy
        /// Not mapped, or a file system without leases, or a file this user does not own.
        case unavailable
    }

    /// Takes a read lease on the mapped file (see the type's comment). The process must handle or
    /// ignore SIGIO before: its default action ends the process when the lease is broken.
    public func takeReadLease() -> Lease {
        guard descriptor >= 0 else { return .unavailable }
        if fcntl(descriptor, Self.setLease, Int32(F_RDLCK)) == 0 { return .taken }
        return errno == EAGAIN ? .busy : .unavailable
    }

    /// Whether another process is waiting to truncate or write the leased file: the lease is being
    /// broken, and the file will change once this mapping is released.
    public var isBeingChanged: Bool {
        guard descriptor >= 0 else { return false }
        return fcntl(descriptor, Self.getLease) == Int32(F_UNLCK)
    }

    // Linux's F_SETLEASE and F_GETLEASE (F_LINUX_SPECIFIC_BASE + 0 and + 1), which Glibc's module does not export.
    private static let setLease: Int32 = 1024
    private static let getLease: Int32 = 1025

    /// Copies `bytes` into memory owned by this object.
    public init(copying bytes: [UInt8]) {
        let p = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
        bytes.withUnsafeBytes { src in p.baseAddress!.copyMemory(from: src.baseAddress ?? UnsafeRawPointer(p.baseAddress!), byteCount: bytes.count) }
        buffer = UnsafeRawBufferPointer(start: p.baseAddress, count: bytes.count)
        isMapped = false
        descriptor = -1
        owner = nil
    }

    private init(viewOf owner: MappedBytes, count: Int) {
        buffer = UnsafeRawBufferPointer(rebasing: owner.buffer[0..<count])
        isMapped = false
        descriptor = -1
        self.owner = owner
    }

    /// The first `count` bytes, sharing this object's memory (used to test truncated files).
    public func prefix(_ count: Int) -> MappedBytes {
        MappedBytes(viewOf: self, count: min(max(count, 0), buffer.count))
    }

    deinit {
        guard owner == nil, let base = buffer.baseAddress else { return }
        if isMapped {
            // Unmapped before the descriptor (and its lease) goes: a waiting writer may then change the file.
            munmap(UnsafeMutableRawPointer(mutating: base), buffer.count)
            close(descriptor)
        } else {
            base.deallocate()
        }
    }
}
