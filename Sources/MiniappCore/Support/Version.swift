/// The version of miniapp: in its messages, results files, checkpoints and run metadata.
public let miniappVersion = "0.1.0"
