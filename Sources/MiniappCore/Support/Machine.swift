import Foundation
import Platform

/// Facts about the machine the rank runs on.
package enum Machine {
    /// The largest cache of CPU 0 (the last level), in bytes; 0 when unknown.
    package static let lastLevelCacheBytes: Int = {
        var best = 0
        for index in 0..<8 {
            let base = "/sys/devices/system/cpu/cpu0/cache/index\(index)/"
            guard let text = try? String(contentsOfFile: base + "size", encoding: .utf8) else { continue }
            best = max(best, cacheSize(text))
        }
        return best
    }()

    /// The level-2 cache of CPU 0 (one core's own on current x86 parts), in
    /// bytes; 0 when unknown.
    package static let levelTwoCacheBytes: Int = {
        for index in 0..<8 {
            let base = "/sys/devices/system/cpu/cpu0/cache/index\(index)/"
            guard let level = try? String(contentsOfFile: base + "level", encoding: .utf8),
                  level.trimmingCharacters(in: .whitespacesAndNewlines) == "2",
                  let text = try? String(contentsOfFile: base + "size", encoding: .utf8) else { continue }
            return cacheSize(text)
        }
        return 0
    }()

    /// "2048K" -> 2097152.
    private static func cacheSize(_ text: String) -> Int {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let multiplier = trimmed.hasSuffix("K") ? 1024 : trimmed.hasSuffix("M") ? 1 << 20 : 1
        return (Int(trimmed.filter(\.isNumber)) ?? 0) * multiplier
    }

    /// The running kernel's boot id (a UUID, new at every boot): the same for
    /// every process on one machine, network namespaces and containers included.
    package static let bootID: String? = {
        guard let text = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8) else { return nil }
        let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return id.isEmpty ? nil : id
    }()

    /// "AMD EPYC ..." from /proc/cpuinfo.
    package static var cpuModel: String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown CPU" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            return line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
        }
        return "unknown CPU"
    }

    /// Memory this process can still allocate, in bytes, and where the figure
    /// comes from: MemAvailable, or less when a memory cgroup (Slurm's, a
    /// container's) limits the process. nil when neither can be read.
    package static func availableMemory() -> (bytes: Int, source: String)? {
        var best: (bytes: Int, source: String)? = nil
        let system = SystemMemory.available
        if system > 0 { best = (system, "MemAvailable") }
        if let limited = cgroupRoom(), limited < (best?.bytes ?? .max) { best = (limited, "memory cgroup limit") }
        return best
    }

    /// limit - usage of this process's memory cgroup (v2, else v1), if limited.
    private static func cgroupRoom() -> Int? {
        guard let membership = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) else { return nil }
        var candidates: [(limit: String, usage: String)] = []
        for line in membership.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 3 else { continue }
            if fields[0] == "0" && fields[1].isEmpty {
                let base = "/sys/fs/cgroup" + (fields[2] == "/" ? "" : fields[2])
                candidates.append((base + "/memory.max", base + "/memory.current"))
            } else if fields[1].split(separator: ",").contains("memory") {
                // Inside a container the hierarchy may be mounted at its own root.
                for base in ["/sys/fs/cgroup/memory" + fields[2], "/sys/fs/cgroup/memory"] {
                    candidates.append((base + "/memory.limit_in_bytes", base + "/memory.usage_in_bytes"))
                }
            }
        }
        let number = { (path: String) -> Int? in
            (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        for candidate in candidates {
            // "max" (v2) or a huge number (v1) means no limit.
            guard let limit = number(candidate.limit) else { continue }
            if limit >= 1 << 60 { return nil }
            return max(0, limit - (number(candidate.usage) ?? 0))
        }
        return nil
    }
}
