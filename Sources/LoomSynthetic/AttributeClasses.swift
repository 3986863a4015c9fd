// The label sets of the attribute benchmark, with the class frequencies StreetStyle-27k
// reports (Matzen, Bala, Snavely 2017, "StreetStyle: Exploring world-wide clothing styles
// from millions of photos", attribute statistics of the annotated subset). The benchmark
// draws its labels with these frequencies so that the imbalance is the real one.

import LoomData

/// Class names and reference counts of the benchmark's `colour` and `pattern` heads, and
/// Fashion-MNIST's `category` head.
public enum AttributeClasses {
    /// Dominant garment colour; counts of StreetStyle-27k.
    public static let colour: [(name: String, count: Int)] = [
        ("black", 6545), ("white", 4461), ("more-than-one", 2439), ("blue", 2419),
        ("gray", 1345), ("red", 1131), ("pink", 649), ("green", 526), ("yellow", 441),
        ("brown", 386), ("purple", 170), ("orange", 162), ("cyan", 33),
    ]

    /// Garment pattern; counts of StreetStyle-27k.
    public static let pattern: [(name: String, count: Int)] = [
        ("solid", 15933), ("graphic", 3832), ("striped", 1069), ("floral", 885),
        ("plaid", 532), ("spotted", 241),
    ]

    /// Fashion-MNIST's ten garment categories, in label order.
    public static var category: [String] { FashionMNISTImporter.categories }

    /// Colour class indices, for the renderer.
    enum Colour: Int, CaseIterable {
        case black, white, multi, blue, gray, red, pink, green, yellow, brown, purple, orange, cyan
    }

    /// Pattern class indices, for the renderer.
    enum Pattern: Int, CaseIterable {
        case solid, graphic, striped, floral, plaid, spotted
    }
}
