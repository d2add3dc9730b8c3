/// A kernel setting fixed at compile time. A kernel generic over it is
/// specialised into one loop per setting, with no test inside: a `Bool`
/// argument passed down as a constant is not enough (the band kernel had
/// been compiled once for all four settings of its two flags, testing
/// `streaming` at every store and `prefetch` at every step, with its row
/// pointers spilled to the stack).
protocol KernelFlag {
    static var isOn: Bool { get }
}

enum FlagOn: KernelFlag {
    static var isOn: Bool { true }
}

enum FlagOff: KernelFlag {
    static var isOn: Bool { false }
}
