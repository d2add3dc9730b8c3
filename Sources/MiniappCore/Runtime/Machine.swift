import Foundation

/// Facts about the machine the rank runs on.
enum Machine {
    /// The largest cache of CPU 0 (the last level), in bytes; 0 when unknown.
    static let lastLevelCacheBytes: Int = {
        var best = 0
        for index in 0..<8 {
            let base = "/sys/devices/system/cpu/cpu0/cache/index\(index)/"
            guard let text = try? String(contentsOfFile: base + "size", encoding: .utf8) else { continue }
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            let multiplier = trimmed.hasSuffix("K") ? 1024 : trimmed.hasSuffix("M") ? 1 << 20 : 1
            best = max(best, (Int(trimmed.filter(\.isNumber)) ?? 0) * multiplier)
        }
        return best
    }()

    /// "AMD EPYC ..." from /proc/cpuinfo.
    static var cpuModel: String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown CPU" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            return line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
        }
        return "unknown CPU"
    }
}
