/// Exact sums and maxima in one message, for one reduction across ranks
/// (a user-defined MPI operation that calls `combine`).
///
/// A sum travels as the live window of its digits: written in balanced form
/// (every digit but the top one in [-2^31, 2^31)), the digits of a sum of
/// doubles of similar magnitudes, positive or negative, are zero outside a
/// few neighbours. A window of `digits` digits is sent with the span of
/// digits that are live on some rank (`lo` ... `hi`). Combining adds the
/// digits, aligned, without carrying (the Int64 words have room for the
/// digits of 2^32 ranks), and widens the span to the union. When that union
/// is wider than the window, the result says so instead of holding digits;
/// the union of spans does not depend on the order in which ranks are
/// combined, so every rank learns the same, and reduces again with a window
/// of every digit (`ExactSum.digitCount`).
///
/// Layout, in Int64 words:
/// - header: digits per window, number of sums, number of maxima;
/// - per sum: lo, hi (empty: Int64.max, Int64.min), NaN, +inf and -inf
///   counts, then the window's digits;
/// - the maxima, as the bit patterns of doubles (NaN wins; +0 over -0).
public enum ExactSumMessage {
    static let headerWords = 3
    static let sumHeaderWords = 5

    /// Words of a message of `sums` sums and `maxima` maxima, windows of `digits` digits.
    public static func wordCount(sums: Int, maxima: Int, digits: Int) -> Int {
        headerWords + sums * (sumHeaderWords + digits) + maxima
    }

    /// Writes a message; a sum whose own digits span more than `digits`
    /// is written as too wide (its span, no digits).
    public static func write(sums: [ExactSum], maxima: [Double], digits: Int, into message: UnsafeMutablePointer<Int64>) {
        message[0] = Int64(digits)
        message[1] = Int64(sums.count)
        message[2] = Int64(maxima.count)
        var p = message + headerWords
        for sum in sums {
            var balanced = sum
            let (lo, hi) = balanced.normalizeLiveDigits()
            p[0] = lo
            p[1] = hi
            for s in 0..<ExactSum.specialCount { p[2 + s] = balanced.words[ExactSum.digitCount + s] }
            let window = p + sumHeaderWords
            window.initialize(repeating: 0, count: digits)
            if hi >= lo && hi - lo < Int64(digits) {
                for k in 0...Int(hi - lo) { window[k] = balanced.words[Int(lo) + k] }
            }
            p += sumHeaderWords + digits
        }
        for (k, x) in maxima.enumerated() { p[k] = Int64(bitPattern: x.bitPattern) }
    }

    /// `inout` = `a` combined with `inout` (both messages of the same shape).
    public static func combine(_ a: UnsafePointer<Int64>, into b: UnsafeMutablePointer<Int64>) {
        let digits = Int(b[0]), sums = Int(b[1]), maxima = Int(b[2])
        var pa = a + headerWords, pb = b + headerWords
        for _ in 0..<sums {
            combineSum(pa, into: pb, digits: digits)
            pa += sumHeaderWords + digits
            pb += sumHeaderWords + digits
        }
        for k in 0..<maxima {
            let x = Double(bitPattern: UInt64(bitPattern: pa[k])), y = Double(bitPattern: UInt64(bitPattern: pb[k]))
            let larger: Double
            if x.isNaN || y.isNaN { larger = .nan }
            else if x != y { larger = x > y ? x : y }
            else { larger = x.sign == .plus ? x : y }
            pb[k] = Int64(bitPattern: larger.bitPattern)
        }
    }

    private static func combineSum(_ a: UnsafePointer<Int64>, into b: UnsafeMutablePointer<Int64>, digits: Int) {
        for s in 0..<ExactSum.specialCount { b[2 + s] &+= a[2 + s] }
        let (aLo, aHi, bLo, bHi) = (a[0], a[1], b[0], b[1])
        let lo = min(aLo, bLo), hi = max(aHi, bHi)
        b[0] = lo
        b[1] = hi
        let windowA = a + sumHeaderWords, windowB = b + sumHeaderWords
        if aHi < aLo { return }                        // a holds no digits
        if hi - lo >= Int64(digits) {                  // too wide: no digits, from now on
            windowB.update(repeating: 0, count: digits)
            return
        }
        if bHi >= bLo {                                // move b's digits up to the new base
            let shift = Int(bLo - lo)
            if shift > 0 {
                for k in stride(from: digits - 1, through: 0, by: -1) { windowB[k] = k >= shift ? windowB[k - shift] : 0 }
            }
        }
        let shift = Int(aLo - lo)
        for k in 0..<(digits - shift) { windowB[k + shift] &+= windowA[k] }
    }

    /// What a reduced message holds: the sums, each rounded once (nil when
    /// some sum's digits, over all ranks, span more than the window), the
    /// maxima, and the widest span of digits of any sum.
    public static func read(_ message: UnsafePointer<Int64>) -> (sums: [Double]?, maxima: [Double], widestSpan: Int) {
        let digits = Int(message[0]), count = Int(message[1]), maxima = Int(message[2])
        var p = message + headerWords
        var sums: [Double]? = []
        var widest = 0
        withUnsafeTemporaryAllocation(of: Int64.self, capacity: digits + 2) { scratch in
            let d = scratch.baseAddress!
            for _ in 0..<count {
                let (lo, hi) = (p[0], p[1])
                let span = hi >= lo ? Int(hi - lo) + 1 : 0
                widest = max(widest, span)
                if span > digits {
                    sums = nil
                } else if sums != nil {
                    d.update(from: p + sumHeaderWords, count: span)
                    sums!.append(ExactSum.rounded(digits: d, count: span, base: span > 0 ? Int(lo) : 0,
                                                  nan: p[2], posInf: p[3], negInf: p[4]))
                }
                p += sumHeaderWords + digits
            }
        }
        let values = (0..<maxima).map { Double(bitPattern: UInt64(bitPattern: p[$0])) }
        return (sums, values, widest)
    }
}

extension ExactSum {
    /// Moves carries up so that every digit but the last is in
    /// [-2^31, 2^31) (then a negative sum has as few live digits as a
    /// positive one; in the form of `normalize`, its digits below the top
    /// would all be non-zero), working only where digits are live. Returns
    /// the span of non-zero digits (Int64.max, Int64.min: none).
    mutating func normalizeLiveDigits() -> (lo: Int64, hi: Int64) {
        var first = -1, last = -1
        for k in 0..<Self.digitCount where words[k] != 0 {
            if first < 0 { first = k }
            last = k
        }
        pendingAdds = 0
        if first < 0 { return (Int64.max, Int64.min) }
        var k = first
        var carry: Int64 = 0
        while k < Self.digitCount - 1 && (k <= last || carry != 0) {
            words[k] += carry
            carry = (words[k] &+ (1 << 31)) >> 32
            words[k] -= carry << 32
            k += 1
        }
        words[k] += carry
        var lo = first, hi = max(last, k)
        while lo <= hi && words[lo] == 0 { lo += 1 }
        while hi >= lo && words[hi] == 0 { hi -= 1 }
        return lo > hi ? (Int64.max, Int64.min) : (Int64(lo), Int64(hi))
    }
}
