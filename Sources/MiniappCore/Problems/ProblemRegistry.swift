/// Every problem miniapp can run: one line each.
enum ProblemRegistry {
    static let problems: [any Problem.Type] = [
        HeatConfiguration.self,
        TealeafConfiguration.self,
        IntegrateConfiguration.self,
    ]
}
