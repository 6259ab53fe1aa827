import Foundation
import FuzzDriver

/// Runs libFuzzer's driver on `entry` with the process's arguments and exits with its status: each
/// fuzz target's main (SwiftPM gives executables a main of their own, so libFuzzer's is not used).
public func runFuzzer(_ entry: @escaping @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, entry))
}
