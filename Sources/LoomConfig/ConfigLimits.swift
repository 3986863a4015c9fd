// Upper bounds on the integers a config may hold (docs/CONFIG.md, "Limits"). A config comes
// from a file, from `--set`, from a coordinator's welcome and from a checkpoint: every size
// in it is checked here before anything is multiplied or allocated with it, so that a layer
// `out: 1000000000000` is a config error naming its key, not an abort in an allocation.
// The whole model's size (parameters, activation memory) is checked where it is built
// (LoomModel's `ModelLimits`).

/// The largest value each kind of integer key accepts.
public enum ConfigLimits {
    /// Any integer key without a tighter bound: 2^31 − 1.
    public static let integer = Int(Int32.max)
    /// `training.seed`: any non-negative 64-bit integer.
    public static let seed = Int.max
    /// Layer widths: `out`, `squeeze`, head `hidden` widths and `classes` (2^20).
    public static let width = 1 << 20
    /// Windows: `kernel`, `stride`, `padding`, `data.augment.crop_padding` (2^12).
    public static let window = 1 << 12
    /// Each of `model.input`'s C, H and W (2^16).
    public static let inputSide = 1 << 16
    /// `training.batch_size` and `training.micro_batch` (2^20 samples).
    public static let batch = 1 << 20
    /// `training.epochs` (2^20).
    public static let epochs = 1 << 20
    /// `cluster.heartbeat_ms` and `cluster.worker_timeout_ms`: one day.
    public static let milliseconds = 86_400_000
}
