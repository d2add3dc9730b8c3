/// An exact accumulator for sums of doubles (a "long accumulator").
///
/// Every finite double is an integer multiple of 2^-1074, so a sum of doubles
/// is an integer in those units. It is kept in 32-bit digits, each stored in an
/// Int64 so that 2^31 additions fit before carries must move. Integer addition
/// is associative: the sum does not depend on the order of the terms, on how
/// they are split among threads and ranks, or on the order partial sums are
/// merged (across ranks: `ExactSumMessage`). Rounding happens once, at the
/// end: the result is the exact sum correctly rounded to nearest (except in
/// the subnormal range, where it may differ by one unit, still reproducibly).
/// This is what makes our reductions bitwise identical for every decomposition.
public struct ExactSum: BitwiseCopyable, Sendable {
    /// 2098 bit positions (2^-1074 ... 2^1023) plus carry room: 68 digits of 32 bits.
    public static let digitCount = 68
    public static let specialCount = 3
    /// Digits, then counts of NaN, +inf and -inf terms.
    public static let wordCount = digitCount + specialCount

    @usableFromInline var words: InlineArray<71, Int64>
    @usableFromInline var pendingAdds: Int
    /// A bound on the biased exponents of the next terms of an array, from
    /// the last block's, for the one-pass way (`ExactSum+Blocks`); 0: measure first.
    var predictedLargestBiased: Int
    /// The last block's smallest non-zero biased exponent: with the bound above, how many bands a split takes.
    var predictedSmallestBiased: Int
    /// The size of its next chunk (`ExactSum+Blocks`).
    var chunkLog2: Int

    public init() {
        words = InlineArray(repeating: 0)
        pendingAdds = 0
        predictedLargestBiased = 0
        predictedSmallestBiased = 0
        chunkLog2 = Self.blockLog2
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

    /// Adds another accumulator (exact). Digits add as they are while the
    /// additions behind both stay within what the words have room for.
    public mutating func add(_ other: ExactSum) {
        var b = other
        if pendingAdds + b.pendingAdds >= 1 << 30 {
            normalize()
            b.normalize()
        }
        for k in 0..<Self.wordCount { words[k] &+= b.words[k] }
        pendingAdds += b.pendingAdds
        if pendingAdds >= 1 << 30 { normalize() }
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

    /// The exact sum, correctly rounded to the nearest double.
    public var value: Double {
        var digits = self   // rounded(...) overwrites the specials, read first, with its room
        return withUnsafeMutablePointer(to: &digits.words) { words in
            words.withMemoryRebound(to: Int64.self, capacity: Self.wordCount) { w in
                Self.rounded(digits: w, count: Self.digitCount, base: 0,
                             nan: w[Self.digitCount], posInf: w[Self.digitCount + 1], negInf: w[Self.digitCount + 2])
            }
        }
    }

    /// The number sum(digits[k] * 2^(32 * (base + k) - 1074)), digits of
    /// any sign and size (each below 2^62 in magnitude), correctly rounded to
    /// the nearest double, or the value of the non-finite terms counted.
    /// Works in place on `digits`, which needs 2 words of room above `count`.
    static func rounded(digits d: UnsafeMutablePointer<Int64>, count: Int, base: Int,
                        nan: Int64, posInf: Int64, negInf: Int64) -> Double {
        if nan > 0 || (posInf > 0 && negInf > 0) { return .nan }
        if posInf > 0 { return .infinity }
        if negInf > 0 { return -.infinity }
        // Balanced digits (every one in [-2^31, 2^31)): the top non-zero
        // digit gives the sign, which is made positive; then plain digits.
        let n = count + 2
        d[count] = 0
        d[count + 1] = 0
        for k in 0..<(n - 1) {
            let carry = (d[k] &+ (1 << 31)) >> 32
            d[k] -= carry << 32
            d[k + 1] += carry
        }
        var top = n - 1
        while top >= 0 && d[top] == 0 { top -= 1 }
        if top < 0 { return 0 }
        let negative = d[top] < 0
        if negative { for k in 0...top { d[k] = -d[k] } }
        for k in 0..<top {
            let carry = d[k] >> 32  // arithmetic shift: floor division by 2^32
            d[k] -= carry << 32
            d[k + 1] += carry
        }
        while top > 0 && d[top] == 0 { top -= 1 }
        // The top three digits hold at least 65 significant bits; everything
        // below only matters as a "sticky" bit for rounding.
        let low = max(top - 2, 0)
        var window: UInt128 = 0
        for k in stride(from: top, through: low, by: -1) {
            window = (window << 32) | UInt128(UInt64(d[k]))
        }
        var sticky = false
        for k in 0..<low where d[k] != 0 { sticky = true; break }
        if sticky { window |= 1 }
        let magnitude = Double(sign: .plus, exponent: 32 * (base + low) - 1074, significand: roundedToDouble(window))
        return negative ? -magnitude : magnitude
    }

    /// Double(x), correctly rounded (ties to even), for x < 2^127: the
    /// standard library's conversion from UInt128 is generic, ten times slower.
    @inline(__always)
    static func roundedToDouble(_ x: UInt128) -> Double {
        let bits = 128 - x.leadingZeroBitCount
        if bits <= 64 { return Double(UInt64(truncatingIfNeeded: x)) }  // a 64-bit conversion rounds correctly
        let shift = bits - 53
        var mantissa = UInt64(truncatingIfNeeded: x >> shift)
        let rest = x & ((1 << shift) - 1), half: UInt128 = 1 << (shift - 1)
        if rest > half || (rest == half && mantissa & 1 == 1) { mantissa += 1 }
        return Double(mantissa) * Double(sign: .plus, exponent: shift, significand: 1)  // exact
    }

    /// True when a NaN or an infinity was added.
    public var sawNonFinite: Bool {
        words[Self.digitCount] + words[Self.digitCount + 1] + words[Self.digitCount + 2] > 0
    }
}
