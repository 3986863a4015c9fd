// The driver's side of early stopping and the best checkpoint (ValidationWatch): observe
// each validation evaluation, say when the run stops, write `best.h5`.

import LoomCheckpoint

extension TrainingRun {
    /// Observes an evaluation made during training (validation evaluations only: the config
    /// requires a validation split for what it watches). Returns the history columns.
    func watch(_ report: EvaluationReport) -> [String: Double] {
        guard report.split == config.data.trainSplit else { return [:] }
        let observation = state.watch.observe(report, step: state.step)
        if observation.newBest { bestDue = true }
        if observation.stops, let e = config.training.earlyStopping {
            let record = state.watch.stopping
            let best = record.bestStep >= 0 ? "best \(record.best) at step \(record.bestStep)" : "no value yet"
            if state.step < state.lastStep {
                logger.notice("early stopping at step \(state.step) of \(state.lastStep): \(e.metric) has not improved by more than \(e.minDelta) (\(e.mode.rawValue)) for \(e.patience) evaluation\(e.patience == 1 ? "" : "s") (\(best))")
            }
        }
        return observation.columns
    }

    /// Writes `best.h5` when the last evaluation was a new best.
    func saveBestIfDue(executor: StepExecutor) throws(TrainingError) {
        guard bestDue, let keep = config.checkpoint.keepBest else { return }
        bestDue = false
        executor.idle()
        try executor.synchronize(state)
        do {
            let path = try directory.saveBest(checkpointContents())
            logger.info("best checkpoint \(path): \(keep.metric) \(state.watch.best.best) at step \(state.step)")
        } catch {
            throw .checkpointWrite(step: state.step, cause: error)
        }
    }

    /// At the start of `run`: what is frozen, and until when.
    func logFreezing() {
        let f = state.freezing
        guard let until = f.unfreezeStep else { return }
        let layers = f.layers.sorted().joined(separator: ",")
        if until == Int.max {
            logger.info("frozen for the whole run: \(layers)")
        } else if state.step < until {
            logger.info("frozen until step \(until) (the first \(until / state.stepsPerEpoch) epochs): \(layers); then trunk layers learn at optimizer.trunk_lr_scale \(config.optimizer.trunkLRScale) of the rate")
        }
    }

    /// After a resume: the early-stopping and best records restored, or why they were not.
    func logResumedWatch() {
        for note in state.watchRestoreNotes { logger.notice("\(note)") }
        let w = state.watch
        func best(_ r: MetricRecord) -> String { r.bestStep >= 0 ? "best \(r.best) at step \(r.bestStep)" : "no value yet" }
        if let e = w.earlyStopping {
            logger.info("early stopping on \(e.metric) (\(e.mode.rawValue)): \(best(w.stopping)), \(w.stopping.wait) of \(e.patience) evaluations without improvement")
            if w.shouldStop {
                logger.notice("this run stopped early at step \(w.stoppedAtStep ?? state.step): nothing left to train (raise training.early_stopping.patience to go on)")
            }
        }
        if let b = w.keepBest {
            logger.info("best checkpoint on \(b.metric) (\(b.mode.rawValue)): \(best(w.best))")
        }
    }
}
