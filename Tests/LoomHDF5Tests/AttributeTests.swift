import LoomHDF5
import Testing

@Test func attributesOfEveryKindRoundTrip() throws {
    let scratch = try ScratchFile()
    try scratch.write { root in
        try root.setAttribute("format", "loom-checkpoint")
        try root.setAttribute("step", 1234)
        try root.setAttribute("lr", 0.05)
        try root.setAttribute("shape", [3, 28, 28])
        try root.setAttribute("mean", [0.25, 0.5])
        try root.setAttribute("class_names", ["T-shirt/top", "Trouser", "Ünïcode ✓"])
    }
    try scratch.read { root throws in
        #expect(try root.stringAttribute("format") == "loom-checkpoint")
        #expect(try root.intAttribute("step") == 1234)
        #expect(try root.doubleAttribute("lr") == 0.05)
        #expect(try root.intArrayAttribute("shape") == [3, 28, 28])
        #expect(try root.doubleArrayAttribute("mean") == [0.25, 0.5])
        #expect(try root.stringArrayAttribute("class_names") == ["T-shirt/top", "Trouser", "Ünïcode ✓"])
        #expect(try root.attributeNames() == ["class_names", "format", "lr", "mean", "shape", "step"])
    }
}

@Test func attributesOnAChildObjectAreSeparateFromTheGroups() throws {
    let scratch = try ScratchFile()
    try scratch.write { root in
        try root.write([1, 2] as [Float], shape: [2], to: "model/f1/bias")
        try root.setAttribute("note", "dataset attribute", on: "model/f1/bias")
        try root.group("model").setAttribute("note", "group attribute", on: "f1")
    }
    try scratch.read { root throws in
        #expect(try root.stringAttribute("note", on: "model/f1/bias") == "dataset attribute")
        #expect(try root.group("model/f1").stringAttribute("note") == "group attribute")
        #expect(try root.attributeNames().isEmpty)
    }
}

@Test func missingAttributeReadsAsNil() throws {
    let scratch = try ScratchFile()
    try scratch.write { try $0.setAttribute("present", 1) }
    try scratch.read { root throws in
        #expect(try root.stringAttribute("absent") == nil)
        #expect(try root.intAttribute("absent") == nil)
        #expect(try root.doubleArrayAttribute("absent") == nil)
    }
}

@Test func settingAnAttributeAgainReplacesItsTypeAndValue() throws {
    let scratch = try ScratchFile()
    try scratch.write { root in
        try root.setAttribute("epoch", "three")
        try root.setAttribute("epoch", 3)
    }
    #expect(try scratch.read { try $0.intAttribute("epoch") } == 3)
}

@Test func doubleAttributeConvertsFromIntegers() throws {
    let scratch = try ScratchFile()
    try scratch.write { try $0.setAttribute("count", 7) }
    #expect(try scratch.read { try $0.doubleAttribute("count") } == 7.0)
}

@Test func intAttributeAcceptsWholeFloatsAndRejectsFractions() throws {
    let scratch = try ScratchFile()
    try scratch.write { root in
        try root.setAttribute("whole", 4.0)
        try root.setAttribute("fraction", 4.5)
    }
    try scratch.read { root throws in
        #expect(try root.intAttribute("whole") == 4)
        let error = #expect(throws: HDF5Error.self) { try root.intAttribute("fraction") }
        #expect(error?.object == "/@fraction")
    }
}

@Test func readingAStringAttributeAsANumberNamesTheAttribute() throws {
    let scratch = try ScratchFile()
    try scratch.write { try $0.write([0] as [Float], shape: [1], to: "w") }
    let file = try HDF5File.open(scratch.path, mode: .readWrite)
    try file.root.setAttribute("kind", "softmax", on: "w")
    let error = #expect(throws: HDF5Error.self) { try file.root.doubleAttribute("kind", on: "w") }
    #expect(error?.description.hasPrefix("\(scratch.path): /w@kind: ") == true)
}

@Test func scalarGetterRejectsAnArrayAttribute() throws {
    let scratch = try ScratchFile()
    try scratch.write { try $0.setAttribute("std", [0.5, 0.25]) }
    try scratch.read { root throws in
        #expect(throws: HDF5Error.self) { try root.doubleAttribute("std") }
    }
}

@Test func emptyArrayAttributesRoundTrip() throws {
    let scratch = try ScratchFile()
    try scratch.write { root in
        try root.setAttribute("none", [] as [Int])
        try root.setAttribute("nothing", [] as [String])
    }
    try scratch.read { root throws in
        #expect(try root.intArrayAttribute("none") == [])
        #expect(try root.stringArrayAttribute("nothing") == [])
    }
}

@Test func attributeOnAMissingObjectIsAnError() throws {
    let scratch = try ScratchFile()
    let file = try HDF5File.create(scratch.path)
    let error = #expect(throws: HDF5Error.self) { try file.root.setAttribute("x", 1, on: "nowhere") }
    #expect(error?.object == "/nowhere")
}
