#if canImport(Glibc)
import Glibc
#endif

/// The process heap as a service that loads and unloads models needs it. glibc's `malloc.h` is not
/// imported into Swift, so its functions are looked up by name (absent on other C libraries).
///
/// glibc raises its mmap threshold (up to 32 MB) whenever a large mapped block is freed; after that a
/// model's working buffers (tens of MB) come from a thread's arena, and freed there they join the
/// arena's top, which `malloc_trim` does not shrink: an unloaded model left up to 40 MB resident,
/// depending on which thread had allocated what. Fixed thresholds keep large blocks mapped (returned
/// when freed) and give arena tops back as soon as they pass the trim threshold.
enum SystemHeap {
    private typealias Trim = @convention(c) (Int) -> Int32
    private typealias Option = @convention(c) (Int32, Int32) -> Int32
    private static let trimFunction: Trim? = dlsym(nil, "malloc_trim").map { unsafeBitCast($0, to: Trim.self) }
    private static let optionFunction: Option? = dlsym(nil, "mallopt").map { unsafeBitCast($0, to: Option.self) }

    /// Blocks of 1 MiB or more are mapped on their own; an arena top beyond 128 KiB is given back.
    /// Done once, before models are loaded.
    static let fixThresholds: Void = {
        let trimThreshold: Int32 = -1, mmapThreshold: Int32 = -3  // M_TRIM_THRESHOLD, M_MMAP_THRESHOLD
        _ = optionFunction?(mmapThreshold, 1 << 20)
        _ = optionFunction?(trimThreshold, 128 << 10)
    }()

    /// Returns freed heap pages (an unloaded model's tokenizer tables and caches) to the system.
    static func trim() { _ = trimFunction?(0) }
}
