/// A command that could not do its work: printed as `Error: …` without the usage text that
/// ArgumentParser adds for a `ValidationError` (which is for wrong arguments).
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
