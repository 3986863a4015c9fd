import LoomHDF5
import Testing

@Test func createGroupMakesIntermediatesAndReturnsExistingGroups() throws {
    let scratch = try ScratchFile()
    try scratch.write { root in
        let deep = try root.createGroup("optimizer/slots/c1")
        #expect(deep.path == "/optimizer/slots/c1")
        let again = try root.createGroup("optimizer/slots")
        #expect(again.path == "/optimizer/slots")
        #expect(try again.children() == ["c1"])
    }
}

@Test func childrenAreSortedLinkNames() throws {
    let scratch = try ScratchFile()
    try scratch.write { root in
        try root.writeScalar(1.0, to: "b")
        _ = try root.createGroup("c")
        try root.writeScalar(Int32(2), to: "a")
    }
    #expect(try scratch.read { try $0.children() } == ["a", "b", "c"])
}

@Test func existsChecksEveryComponentWithoutThrowing() throws {
    let scratch = try ScratchFile()
    try scratch.write { try $0.write([1] as [Float], shape: [1], to: "model/w") }
    try scratch.read { root in
        #expect(root.exists("model/w"))
        #expect(root.exists("/model"))
        #expect(!root.exists("model/missing"))
        #expect(!root.exists("missing/deeper/still"))
        #expect(!root.exists("model/w/inside-a-dataset"))
        #expect(root.isDataset("model/w") && !root.isGroup("model/w"))
        #expect(root.isGroup("model") && !root.isDataset("model"))
    }
}

@Test func removeUnlinksADatasetOrGroup() throws {
    let scratch = try ScratchFile()
    try scratch.write { root in
        try root.write([1] as [Float], shape: [1], to: "a/x")
        try root.writeScalar(Int32(1), to: "b")
        try root.remove("a")
        try root.remove("b")
        #expect(try root.children().isEmpty)
    }
}

@Test func openingAMissingGroupIsAnError() throws {
    let scratch = try ScratchFile()
    try scratch.write { root in
        let error = #expect(throws: HDF5Error.self) { try root.group("model/c1") }
        #expect(error?.object == "/model/c1")
    }
}

@Test func pathsResolveRelativeToTheGroup() throws {
    let scratch = try ScratchFile()
    try scratch.write { root in
        let model = try root.createGroup("model")
        try model.writeScalar(Float(3), to: "c1/scale")
        #expect(try root.read(Float.self, "model/c1/scale").values == [3])
        #expect(try model.read(Float.self, "/model/c1/scale").values == [3])
    }
}
