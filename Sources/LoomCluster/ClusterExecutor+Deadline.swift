// The step deadline on the coordinator (`StepDeadline`): a worker holding a piece past it
// is demoted — its pieces go to other workers and it gets nothing more of this step or
// evaluation — and a worker demoted in `WorkerRecord.missedDeadlineLimit` jobs in a row is
// excluded from the run. A late result is still taken if its piece is not in yet: results
// are deterministic, so who computed a block never matters (ARCHITECTURE.md, invariant 1).

import LoomWire

extension ClusterExecutor {
    /// Demotes every worker of the running job that holds a piece or an audit copy past its
    /// deadline, as long as another worker may take its work (the last one is waited for:
    /// nobody else could do it sooner).
    func enforceDeadlines() {
        guard let job, job.isCut else { return }
        let now = clock.now
        let kind: StepDeadline.Kind
        if case .train = job.kind { kind = .train } else { kind = .evaluate }
        var late: [PeerID: String] = [:]
        func check(_ key: Int, owner: PeerID?, givenAt: ContinuousClock.Instant?, units: Int, what: String) {
            guard let owner, let givenAt, late[owner] == nil else { return }
            let allowed = deadline.allowance(kind, units: units)
            let held = now - givenAt
            guard held > allowed else { return }
            late[owner] = "held \(what) for \(milliseconds(held)) ms, past the step deadline of \(milliseconds(allowed)) ms (\(deadlineRule(kind, units: units)))"
        }
        for (key, piece) in job.pieces where !piece.done {
            check(key, owner: piece.owner, givenAt: piece.givenAt, units: piece.heldUnits, what: describe(job, key))
        }
        for (key, audit) in job.audits {
            for copy in [audit.second, audit.third].compactMap({ $0 }) where copy.result == nil {
                check(key, owner: copy.owner, givenAt: copy.givenAt, units: copy.heldUnits, what: "the audit copy of " + describe(job, key))
            }
        }
        for worker in orderedWorkers {
            guard let why = late[worker.peer] else { continue }
            let others = workers.values.filter { $0.peer != worker.peer && !job.quarantined.contains($0.peer) }
            guard !others.isEmpty else { continue }
            // Every other worker missed this job's deadline already: they get another chance
            // rather than nobody being left to do the work.
            if others.allSatisfy({ job.demoted.contains($0.peer) }) { job.demoted.subtract(others.map(\.peer)) }
            demote(worker, in: job, why: why)
        }
    }

    /// What piece `key` of `job` is, for the log.
    func describe(_ job: ClusterJob, _ key: Int) -> String {
        switch job.kind {
        case .train: "micro-shards \(job.pieces[key]!.block) of step \(job.step)"
        case .evaluate: "evaluation chunk \(key)"
        }
    }

    /// How the deadline of a piece was set, for the log.
    private func deadlineRule(_ kind: StepDeadline.Kind, units: Int) -> String {
        if deadline.fixed != nil { return "cluster.step_deadline_ms" }
        let unit = kind == .train ? "micro-shard" : "sample"
        guard let perUnit = deadline.secondsPerUnit(kind) else {
            return "cluster.step_deadline_floor_ms: no \(unit) timed yet"
        }
        return String(format: "%.0f x the recent %.2f ms per %@ x %d, at least cluster.step_deadline_floor_ms",
                      StepDeadline.factor, perUnit * 1000, unit, units)
    }

    /// Takes `worker`'s unfinished work of `job` back for other workers and gives it no more
    /// of `job`; at the limit of jobs in a row, excludes it from the run.
    func demote(_ worker: WorkerRecord, in job: ClusterJob, why: String) {
        job.demoted.insert(worker.peer)
        let released = job.release(worker.peer)
        statistics.deadlinesMissed += 1
        worker.missedDeadlines += 1
        if worker.missedDeadlines >= WorkerRecord.missedDeadlineLimit {
            exclude(worker, why: "missed the step deadline in \(worker.missedDeadlines) jobs in a row (last: \(why))")
            return
        }
        logger.warning("worker \(worker.name) \(why): its \(released) piece(s) go to other workers and it sits out the rest of \(job.isTraining ? "step \(job.step)" : "the evaluation") (\(worker.missedDeadlines) of \(WorkerRecord.missedDeadlineLimit) in a row before it is excluded)")
    }

    /// Puts `worker` out of the run for good: its work goes to others, its messages are
    /// dropped from now on, and it is told why (it then exits, as a refused worker does).
    func exclude(_ worker: WorkerRecord, why: String) {
        excluded[worker.peer] = why
        workers.removeValue(forKey: worker.peer)
        worker.sharedResults = nil
        departed[worker.peer] = nil
        statistics.workersExcluded += 1
        let released = job?.release(worker.peer) ?? 0
        // Its blocks of the step assigned ahead too: no deadline runs for a worker out of
        // the run, so they would never be given to another.
        _ = early?.job.release(worker.peer)
        let pending = released > 0 ? "; \(released) piece(s) of step \(job!.step) go to other workers" : ""
        logger.error("worker \(worker.name) excluded from the run: \(why)\(pending); \(workers.count) worker(s) left")
        try? transport.send(.refuse(Refusal(runID: runID, reason: "excluded from the run: \(why)")), to: worker.peer)
        if workers.isEmpty { lastWaitLog = clock.now - options.waitLogInterval }
    }
}

extension ClusterJob {
    var isTraining: Bool {
        if case .train = kind { return true }
        return false
    }
}
