import Foundation

/// Output to the terminal. Only rank 0 prints, so a message appears once
/// whatever the rank count; warnings and errors go to stderr.
public struct Console: Sendable {
    public enum Verbosity: Int, Comparable, Sendable {
        case quiet, normal, verbose
        public static func < (a: Verbosity, b: Verbosity) -> Bool { a.rawValue < b.rawValue }
    }

    public let isRoot: Bool
    public let verbosity: Verbosity

    public init(isRoot: Bool, verbosity: Verbosity) {
        self.isRoot = isRoot
        self.verbosity = verbosity
    }

    /// Set-up and summary lines (not printed with --quiet).
    public func info(_ line: @autoclosure () -> String) {
        guard isRoot, verbosity >= .normal else { return }
        Console.write(line() + "\n", to: .output)
    }

    /// Details printed with --verbose only.
    public func detail(_ line: @autoclosure () -> String) {
        guard isRoot, verbosity >= .verbose else { return }
        Console.write(line() + "\n", to: .output)
    }

    /// What the user must read even with --quiet (a stop under way), on stderr.
    public func notice(_ message: @autoclosure () -> String) {
        guard isRoot else { return }
        Console.write("miniapp: \(message())\n", to: .error)
    }

    public func warning(_ message: @autoclosure () -> String) {
        guard isRoot else { return }
        Console.write("miniapp: warning: \(message())\n", to: .error)
    }

    /// An error message, printed by rank 0 only.
    public func error(_ message: @autoclosure () -> String) {
        guard isRoot else { return }
        Console.write("miniapp: error: \(message())\n", to: .error)
    }

    public enum Stream: Sendable { case output, error }

    /// Writes at once, unbuffered (lines from a batch job must not sit in a buffer).
    public static func write(_ text: String, to stream: Stream) {
        let handle = stream == .output ? FileHandle.standardOutput : FileHandle.standardError
        handle.write(Data(text.utf8))
    }
}

/// Number formatting for tables.
public enum Format {
    public static func fixed(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }
    public static func sci(_ x: Double, _ digits: Int = 4) -> String { String(format: "%.\(digits)e", x) }
    public static func general(_ x: Double, _ digits: Int = 6) -> String { String(format: "%.\(digits)g", x) }

    public static func bytes(_ n: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(n), k = 0
        while value >= 1024 && k < units.count - 1 { value /= 1024; k += 1 }
        return k == 0 ? "\(n) B" : String(format: "%.1f", value) + " " + units[k]
    }

    public static func duration(_ seconds: Double) -> String {
        if seconds < 1e-3 { return String(format: "%.1f us", seconds * 1e6) }
        if seconds < 1 { return String(format: "%.1f ms", seconds * 1e3) }
        if seconds < 120 { return String(format: "%.2f s", seconds) }
        let s = Int(seconds.rounded())
        return s < 7200 ? "\(s / 60) min \(s % 60) s" : "\(s / 3600) h \((s % 3600) / 60) min"
    }

    /// 262144 -> "262,144".
    public static func grouped(_ n: Int) -> String {
        let digits = String(abs(n))
        var out = ""
        for (k, c) in digits.enumerated() {
            if k > 0 && (digits.count - k) % 3 == 0 { out += "," }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    public static func padLeft(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
    }

    public static func padRight(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }
}
