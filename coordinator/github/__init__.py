"""GitHub integration: sans-I/O events, the write-access gate, the prompt built from an issue, the tracking
comment, and one narrow API (:mod:`coordinator.github.api`) whose only implementation imports PyGithub."""
