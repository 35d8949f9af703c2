"""Store interfaces and their implementations (in-process/Redis state, SQL records)."""
