/// How far a download has come.
public struct DownloadProgress: Sendable {
    public var file: String
    public var bytesDone: Int64
    public var bytesTotal: Int64
    public var bytesPerSecond: Double

    public var secondsLeft: Double? {
        bytesPerSecond > 0 ? Double(max(bytesTotal - bytesDone, 0)) / bytesPerSecond : nil
    }
}
