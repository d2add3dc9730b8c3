import CMiniappLinux

/// The CPUs the calling thread may run on, as set by the launcher
/// (mpirun binding, srun --cpu-bind, taskset).
public enum Affinity {
    public static func allowedCPUs() -> [Int] {
        var cpus = [Int32](repeating: 0, count: 4096)
        let n = miniapp_thread_affinity(&cpus, Int32(cpus.count))
        guard n > 0 else { return [] }
        return cpus.prefix(Int(min(n, Int32(cpus.count)))).map(Int.init)
    }

    /// Compact text for a CPU list: [0, 1, 2, 5] -> "0-2,5".
    public static func describe(_ cpus: [Int]) -> String {
        var parts: [String] = []
        var k = 0
        let sorted = cpus.sorted()
        while k < sorted.count {
            var end = k
            while end + 1 < sorted.count && sorted[end + 1] == sorted[end] + 1 { end += 1 }
            parts.append(end == k ? "\(sorted[k])" : "\(sorted[k])-\(sorted[end])")
            k = end + 1
        }
        return parts.joined(separator: ",")
    }

    /// The CPUs of a list like "0-2,5" (the inverse of `describe`).
    public static func parse(_ text: String) -> [Int] {
        var cpus: [Int] = []
        for part in text.split(separator: ",") {
            let ends = part.split(separator: "-").compactMap { Int($0) }
            if ends.count == 2, ends[0] <= ends[1] { cpus += Array(ends[0]...ends[1]) } else if ends.count == 1 { cpus.append(ends[0]) }
        }
        return cpus
    }

    /// Binds the calling thread to `cpu`; false when the system refuses.
    @discardableResult
    public static func pinCurrentThread(to cpu: Int) -> Bool {
        miniapp_pin_thread_to_cpu(Int32(cpu)) == 0
    }

    public static func currentCPU() -> Int { Int(miniapp_current_cpu()) }
}
