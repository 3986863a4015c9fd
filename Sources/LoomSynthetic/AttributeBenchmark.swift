// The attribute benchmark: Fashion-MNIST garments recoloured and printed so that colour
// and pattern heads have the class imbalance of StreetStyle-27k (see docs/DATASETS.md).
//
// Every sample is a pure function of (seed, split, index, source garment): labels come
// from `KeyedRandom(seed:, purpose: .dataset, keys: [split hash, index, 0])` and the
// rendering from the same key with a final 1, so changing how a pattern is drawn never
// changes which labels a sample has.

import LoomData
import LoomKernels

/// Generator of the `fashion-mnist-attr` dataset (colour, pattern and category heads).
public enum AttributeBenchmark {
    /// Fraction of samples whose colour label is withheld (-1), to exercise loss masking.
    public static let missingColourRate = 0.03
    /// Fraction of samples whose pattern label is withheld (-1).
    public static let missingPatternRate = 0.05

    /// One rendered sample.
    public struct Sample: Sendable {
        /// `(H, W, 3)` uint8 RGB.
        public var rgb: [UInt8]
        /// Stored labels: class index or -1 when withheld.
        public var colour: Int32
        public var pattern: Int32
        /// The classes actually rendered (also for withheld labels).
        public var renderedColour: Int
        public var renderedPattern: Int
    }

    /// The labels of sample `index` of `split`: rendered colour and pattern classes,
    /// drawn with the StreetStyle-27k frequencies, and whether each is withheld.
    public static func drawLabels(seed: UInt64, split: String, index: Int)
        -> (colour: Int, pattern: Int, colourWithheld: Bool, patternWithheld: Bool) {
        var rng = KeyedRandom(seed: seed, purpose: .dataset, keys: sampleKey(split: split, index: index) + [0])
        let colour = rng.categorical(AttributeClasses.colour.map { Double($0.count) })
        let pattern = rng.categorical(AttributeClasses.pattern.map { Double($0.count) })
        let hideColour = rng.nextDouble() < missingColourRate
        let hidePattern = rng.nextDouble() < missingPatternRate
        return (colour, pattern, hideColour, hidePattern)
    }

    /// Renders sample `index` of `split` from a grey garment `gray` `(H, W)` uint8
    /// (background 0, as in Fashion-MNIST).
    public static func renderSample(gray: UnsafePointer<UInt8>, height: Int, width: Int,
                                    seed: UInt64, split: String, index: Int) -> Sample {
        let labels = drawLabels(seed: seed, split: split, index: index)
        var rng = KeyedRandom(seed: seed, purpose: .dataset, keys: sampleKey(split: split, index: index) + [1])
        let rgb = GarmentRenderer(gray: gray, height: height, width: width)
            .render(colour: AttributeClasses.Colour(rawValue: labels.colour)!,
                    pattern: AttributeClasses.Pattern(rawValue: labels.pattern)!, &rng)
        return Sample(rgb: rgb,
                      colour: labels.colourWithheld ? -1 : Int32(labels.colour),
                      pattern: labels.patternWithheld ? -1 : Int32(labels.pattern),
                      renderedColour: labels.colour, renderedPattern: labels.pattern)
    }

    /// (hash of the split name, index): the per-sample part of every random key.
    static func sampleKey(split: String, index: Int) -> [UInt64] {
        var f = Fingerprint()
        f.add(name: split)
        return [f.value, UInt64(index)]
    }
}
