// ConfigChanges: which keys differ between a checkpoint's config and a resume's, and
// which of those break an exact resume.

import LoomConfig
import Testing

private func changes(_ overrides: [String]) throws -> [ConfigChange] {
    let before = try ConfigLoader.load(path: TestConfigs.path("configs/smoke.yaml"))
    let after = try ConfigLoader.load(path: TestConfigs.path("configs/smoke.yaml"), overrides: overrides)
    return try ConfigChanges.between(old: before.yaml, new: after.yaml, source: (old: "ckpt", new: "now"))
}

@Test func anUnchangedConfigHasNoChanges() throws {
    #expect(try changes([]).isEmpty)
}

@Test func aLearningRateChangeIsReportedWithBothValuesAndAllowed() throws {
    let found = try changes(["optimizer.lr=0.01"])
    #expect(found == [ConfigChange(key: "optimizer.lr", old: "0.05", new: "0.01")])
    #expect(found.allSatisfy { !$0.breaksExactResume })
    #expect(found.first?.description == "optimizer.lr: 0.05 -> 0.01")
}

@Test(arguments: ["training.batch_size=32", "training.micro_batch=8", "training.seed=8",
                  "data.std=[0.5]", "model.layers.0.out=16"])
func changesThatBreakAnExactResumeAreMarked(_ override: String) throws {
    let found = try changes([override])
    let key = String(override.split(separator: "=")[0])
    let change = try #require(found.first { $0.key.hasPrefix(key) })
    #expect(change.breaksExactResume, "\(change)")
}

@Test func movingTheDatasetFileIsNotABreakingChange() throws {
    let found = try changes(["data.path=/elsewhere/fashion-mnist.h5"])
    #expect(found.map(\.key) == ["data.path"])
    #expect(!found[0].breaksExactResume)
}

@Test func aKeyPresentOnOneSideOnlyIsAChangeFromOrToTheDefault() throws {
    let found = try changes(["training.eval_every_steps=4"])
    #expect(found == [ConfigChange(key: "training.eval_every_steps", old: nil, new: "4")])
    #expect(found[0].description == "training.eval_every_steps: (default) -> 4")
}

@Test func numbersCompareByValueNotSpelling() throws {
    let a = "name: x\noptimizer:\n  lr: 0.05\n  weight_decay: 1.0e-4\ntraining:\n  epochs: 2\n"
    let b = "name: x\noptimizer:\n  lr: 5.0e-2\n  weight_decay: 0.0001\ntraining:\n  epochs: 2.0\n"
    #expect(try ConfigChanges.between(old: a, new: b, source: (old: "a", new: "b")).isEmpty)
}

@Test func aConfigThatIsNotAMappingIsAnErrorNamingItsSource() throws {
    #expect(throws: ConfigError.self) {
        try ConfigChanges.between(old: "- a\n- b\n", new: "name: x\n", source: (old: "ckpt-7.h5:/config", new: "now"))
    }
    do {
        _ = try ConfigChanges.between(old: "- a\n", new: "name: x\n", source: (old: "ckpt-7.h5:/config", new: "now"))
    } catch {
        #expect(error.description.contains("ckpt-7.h5:/config"))
    }
}
