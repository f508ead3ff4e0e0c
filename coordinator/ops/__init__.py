"""Operations around the queue: ``coordinator doctor`` (is this machine ready?) and runners as services of the
operating system (systemd, launchd, Task Scheduler). One module per job; the judgements are pure functions."""
