import CHDF5
import CHDF5Shim
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Process-wide state of libhdf5.
///
/// libhdf5 may be built without thread safety (two threads inside the library at once
/// corrupt its global state); Debian 12's 1.10.8 happens to be built thread-safe, with
/// one error stack per thread. Every LoomHDF5 entry point therefore runs under one
/// recursive process-wide lock, so separate `HDF5File`s may be used from separate
/// threads whatever the build, and turns off HDF5's stderr error printing for the
/// calling thread. A single `HDF5File` (and its groups) is still meant to be used from
/// one thread at a time: interleaving writes from several threads is not supported.
enum HDF5Library {
    /// Created once (Swift initialises static lets exactly once, thread-safely);
    /// initialising it also opens the library.
    private static let lock: UnsafeMutablePointer<pthread_mutex_t> = {
        let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_RECURSIVE))
        pthread_mutex_init(mutex, &attributes)
        pthread_mutexattr_destroy(&attributes)
        // No library shutdown at exit: after a failed write (a full disk) libhdf5 keeps the
        // file half-closed, and its exit-time cleanup then dereferences freed state and
        // crashes the process after Loom has reported the error (exit 139 instead of 1).
        // Loom closes every file it writes before renaming it into place, so nothing is left
        // for that cleanup to flush; a temporary file abandoned by a failure is removed.
        H5dont_atexit()
        H5open()
        return mutex
    }()

    /// How many `serialized` calls the lock holder is inside (guarded by `lock`).
    nonisolated(unsafe) private static var depth = 0

    /// Runs `body` holding the library lock. On the outermost entry it silences HDF5's
    /// automatic error printing: a thread-safe libhdf5 keeps that setting per thread,
    /// and the call is cheap next to any file operation.
    static func serialized<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(lock)
        depth += 1
        defer {
            depth -= 1
            pthread_mutex_unlock(lock)
        }
        if depth == 1 { loom_h5_silence_errors() }
        return try body()
    }

    static var defaultPlist: hid_t { loom_h5p_default() }
}

/// Checks HDF5 return codes against a fixed file/object, turning failures into
/// ``HDF5Error``s that carry HDF5's own innermost message.
struct HDF5Call {
    let file: String
    let object: String

    /// Returns `id`, or throws `message` if libhdf5 returned a negative id.
    func id(_ id: hid_t, _ message: @autoclosure () -> String) throws(HDF5Error) -> hid_t {
        if id < 0 { throw HDF5Error.fromLibrary(file: file, object: object, message()) }
        return id
    }

    /// Throws `message` if libhdf5 returned a negative status.
    func check(_ status: herr_t, _ message: @autoclosure () -> String) throws(HDF5Error) {
        if status < 0 { throw HDF5Error.fromLibrary(file: file, object: object, message()) }
    }

    /// An error that does not come from libhdf5 (bad arguments, wrong kind of object).
    func error(_ message: String) -> HDF5Error {
        HDF5Error(file: file, object: object, message: message)
    }
}
