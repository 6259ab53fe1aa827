/// The multiplier and scale of an int8 block whose largest magnitude is `maximum`, computed exactly
/// as llama.cpp computes them: values are multiplied by 127 / max (not divided by the scale — the
/// two differ in the last bit, which flips values that fall on a rounding tie; with the outlier
/// channels of these models one such flip moves a projection's output by 10⁻³). The scale is
/// max / 127 for the per-32 formats; the per-256 format (`wholeScale`) stores 1 / multiplier.
public enum QuantizationScale {
    @inline(__always)
    public static func of(maximum: Float, wholeScale: Bool) -> (scale: Float, multiplier: Float) {
        guard maximum != 0 else { return (0, 0) }
        let multiplier = 127 / maximum
        return (wholeScale ? 1 / multiplier : maximum / 127, multiplier)
    }
}
