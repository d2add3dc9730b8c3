/// What to start: `ranks` processes of `program`, each with `threads` threads,
/// on this machine, on the hosts of a hostfile, or on the nodes of a Slurm
/// allocation.
public struct LaunchRequest: Equatable, Sendable {
    /// How each rank is held to its cores.
    public enum Binding: String, CaseIterable, Sendable {
        /// `cores` where ranks x threads fit the cores (of this machine, or
        /// of the allocation), else `none`; `none` on hosts of a hostfile,
        /// whose cores this machine cannot see.
        case automatic = "auto"
        /// Each rank on `threads` cores of its own.
        case cores
        /// Left to the kernel: for more ranks x threads than cores.
        case none
    }

    /// A host of a hostfile and the ranks it takes (nil: as the launcher decides).
    public struct Host: Equatable, Sendable {
        public var name: String
        public var slots: Int?

        public init(name: String, slots: Int? = nil) {
            self.name = name
            self.slots = slots
        }
    }

    public var program: String
    public var arguments: [String]
    /// nil: as many as the Slurm allocation has tasks (srun), else 1.
    public var ranks: Int?
    public var threads = 1
    /// The hosts to run on; empty: this machine, or the Slurm allocation.
    public var hosts: [Host] = []
    /// Rank k on host k mod H instead of filling each host's slots in turn.
    public var roundRobin = false
    /// Under Slurm: spread the ranks over this many nodes.
    public var nodes: Int?
    public var binding = Binding.automatic
    /// Variables set for every rank, on every host.
    public var environment: [String: String] = [:]

    public init(program: String, arguments: [String], ranks: Int? = nil) {
        self.program = program
        self.arguments = arguments
        self.ranks = ranks
    }
}

extension LaunchRequest.Host {
    /// The hosts of a hostfile: Open MPI's form ("node1 slots=4") or Hydra's
    /// ("node1:4"), one per line; blank lines and comments (#) are skipped,
    /// a host named twice counts once.
    public static func parse(hostfile text: String) -> [LaunchRequest.Host] {
        var hosts: [LaunchRequest.Host] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let words = line.prefix { $0 != "#" }.split(whereSeparator: \.isWhitespace).map(String.init)
            guard let first = words.first else { continue }
            var host = LaunchRequest.Host(name: first)
            if let colon = first.firstIndex(of: ":"), let slots = Int(first[first.index(after: colon)...]) {
                host = LaunchRequest.Host(name: String(first[..<colon]), slots: slots)
            }
            for word in words.dropFirst() where word.hasPrefix("slots=") {
                host.slots = Int(word.dropFirst("slots=".count))
            }
            if !hosts.contains(where: { $0.name == host.name }) { hosts.append(host) }
        }
        return hosts
    }
}
