// The attribute benchmark: Fashion-MNIST garments recoloured and printed so that colour
// and pattern heads have the class imbalance of StreetStyle-27k (see docs/DATASETS.md).
//
// Every sample is a pure function of (seed, split, index, source garment): labels come
// from `KeyedRandom(seed:, purpose: .dataset, keys: [split hash, index, 0])` and the
// rendering from the same key with a final 1, so changing how a pattern is drawn never
// changes which labels a sample has.

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

    /// Renders sample `index` of `split` from a grey garment `gray` `(H, W)` uint8
    /// (background 0, as in Fashion-MNIST).
    public static func renderSample(gray: UnsafePointer<UInt8>, height: Int, width: Int,
                                    seed: UInt64, split: String, index: Int) -> Sample {
        var split64 = Fingerprint()
        split64.add(name: split)
        let key = [split64.value, UInt64(index)]
        var labelRNG = KeyedRandom(seed: seed, purpose: .dataset, keys: key + [0])
        let colour = labelRNG.categorical(AttributeClasses.colour.map { Double($0.count) })
        let pattern = labelRNG.categorical(AttributeClasses.pattern.map { Double($0.count) })
        let hideColour = labelRNG.nextDouble() < missingColourRate
        let hidePattern = labelRNG.nextDouble() < missingPatternRate

        var rng = KeyedRandom(seed: seed, purpose: .dataset, keys: key + [1])
        let rgb = GarmentRenderer(gray: gray, height: height, width: width)
            .render(colour: AttributeClasses.Colour(rawValue: colour)!,
                    pattern: AttributeClasses.Pattern(rawValue: pattern)!, &rng)
        return Sample(rgb: rgb, colour: hideColour ? -1 : Int32(colour), pattern: hidePattern ? -1 : Int32(pattern),
                      renderedColour: colour, renderedPattern: pattern)
    }
}
