/// An exact accumulator for sums of doubles (a "long accumulator").
///
/// Every finite double is an integer multiple of 2^-1074, so a sum of doubles
/// is an integer in those units. It is kept in 32-bit digits, each stored in an
/// Int64 so that 2^31 additions fit before carries must move. Integer addition
/// is associative: the sum does not depend on the order of the terms, on how
/// they are split among threads and ranks, or on the order partial sums are
/// merged (MPI_SUM over the digits, as Int64). Rounding happens once, at the
/// end: the result is the exact sum correctly rounded to nearest (except in
/// the subnormal range, where it may differ by one unit, still reproducibly).
/// This is what makes our reductions bitwise identical for every decomposition.
public struct ExactSum: BitwiseCopyable, Sendable {
    /// 2098 bit positions (2^-1074 ... 2^1023) plus carry room: 68 digits of 32 bits.
    public static let digitCount = 68
    public static let specialCount = 3
    /// Digits, then counts of NaN, +inf and -inf terms (as Int64s, so that a
    /// whole accumulator can be reduced with one MPI_SUM over Int64).
    public static let wordCount = digitCount + specialCount

    @usableFromInline var words: InlineArray<71, Int64>
    @usableFromInline var pendingAdds: Int

    public init() {
        words = InlineArray(repeating: 0)
        pendingAdds = 0
    }

    /// Adds one double, exactly.
    @inlinable @inline(__always)
    public mutating func add(_ x: Double) {
        let bits = x.bitPattern
        let biased = Int(truncatingIfNeeded: (bits >> 52) & 0x7FF)
        if biased == 0x7FF { addSpecial(x); return }
        let fraction = bits & 0x000F_FFFF_FFFF_FFFF
        // x = mantissa * 2^(position - 1074); subnormals have no hidden bit.
        let mantissa = biased == 0 ? fraction : fraction | 0x0010_0000_0000_0000
        let position = biased == 0 ? 0 : biased - 1
        let digit = position >> 5
        let shifted = UInt128(mantissa) &<< UInt128(position & 31)
        let d0 = Int64(truncatingIfNeeded: UInt64(truncatingIfNeeded: shifted) & 0xFFFF_FFFF)
        let d1 = Int64(truncatingIfNeeded: UInt64(truncatingIfNeeded: shifted &>> 32) & 0xFFFF_FFFF)
        let d2 = Int64(truncatingIfNeeded: UInt64(truncatingIfNeeded: shifted &>> 64))
        // Negate without a branch (signs of real data are unpredictable):
        // (d ^ s) - s is d for s = 0 and -d for s = -1.
        let s = Int64(bitPattern: bits) >> 63
        words[digit] &+= (d0 ^ s) &- s
        words[digit + 1] &+= (d1 ^ s) &- s
        words[digit + 2] &+= (d2 ^ s) &- s
        pendingAdds &+= 1
        if pendingAdds >= 1 << 30 { normalize() }
    }

    @usableFromInline
    mutating func addSpecial(_ x: Double) {
        if x.isNaN { words[Self.digitCount] += 1 }
        else if x > 0 { words[Self.digitCount + 1] += 1 }
        else { words[Self.digitCount + 2] += 1 }
    }

    /// Adds another accumulator (exact).
    public mutating func add(_ other: ExactSum) {
        var a = self, b = other
        a.normalize(); b.normalize()
        for k in 0..<Self.wordCount { a.words[k] &+= b.words[k] }
        a.normalize()
        self = a
    }

    /// Moves carries up so that every digit but the last is in [0, 2^32).
    /// Keeps the value; afterwards 2^31 more additions (or merging with up to
    /// 2^31 other normalised accumulators) cannot overflow.
    public mutating func normalize() {
        for k in 0..<(Self.digitCount - 1) {
            let carry = words[k] >> 32  // arithmetic shift: floor division by 2^32
            words[k] -= carry << 32
            words[k + 1] += carry
        }
        pendingAdds = 0
    }

    /// The accumulator as Int64 words, for MPI_Allreduce(MPI_SUM) across ranks.
    public var wordsForReduction: [Int64] {
        var copy = self
        copy.normalize()
        return (0..<Self.wordCount).map { copy.words[$0] }
    }

    /// An accumulator from reduced words (the element-wise sum of normalised ones).
    public init(reducedWords: some Collection<Int64>) {
        self.init()
        for (k, w) in reducedWords.enumerated() where k < Self.wordCount { words[k] = w }
        normalize()
    }

    /// The exact sum, correctly rounded to the nearest double.
    public var value: Double {
        let nan = words[Self.digitCount], posInf = words[Self.digitCount + 1], negInf = words[Self.digitCount + 2]
        if nan > 0 || (posInf > 0 && negInf > 0) { return .nan }
        if posInf > 0 { return .infinity }
        if negInf > 0 { return -.infinity }

        var digits = self
        digits.normalize()
        var negative = false
        if digits.words[Self.digitCount - 1] < 0 {
            // Negate the whole number (every digit), then carry again.
            negative = true
            for k in 0..<Self.digitCount { digits.words[k] = -digits.words[k] }
            digits.normalize()
        }
        var top = Self.digitCount - 1
        while top >= 0 && digits.words[top] == 0 { top -= 1 }
        if top < 0 { return 0 }
        // The top three digits hold at least 65 significant bits; everything
        // below only matters as a "sticky" bit for rounding.
        let base = max(top - 2, 0)
        var window: UInt128 = 0
        for k in stride(from: top, through: base, by: -1) {
            window = (window << 32) | UInt128(UInt64(digits.words[k]))
        }
        var sticky = false
        for k in 0..<base where digits.words[k] != 0 { sticky = true; break }
        if sticky { window |= 1 }
        let rounded = Double(window)  // correctly rounded (ties to even)
        let magnitude = Double(sign: .plus, exponent: 32 * base - 1074, significand: rounded)
        return negative ? -magnitude : magnitude
    }

    /// True when a NaN or an infinity was added.
    public var sawNonFinite: Bool {
        words[Self.digitCount] + words[Self.digitCount + 1] + words[Self.digitCount + 2] > 0
    }
}
