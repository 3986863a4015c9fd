import CHDF5
import CHDF5Shim
import Foundation

/// An open HDF5 file.
///
/// Objects inside are reached through ``root`` and ``HDF5Group``; every operation opens
/// the HDF5 objects it needs and closes them before returning, so the only handle kept
/// is the file's own. The file is opened with the "strong" close degree: `close()`
/// also closes anything still open inside it, so a renamed or reopened file is never
/// held by a stale handle.
///
/// Use one `HDF5File` from one thread at a time (see ``HDF5Library`` for the process-wide
/// lock that keeps separate files on separate threads safe).
public final class HDF5File {
    /// How to open an existing file.
    public enum Mode: Sendable {
        case readOnly
        case readWrite
    }

    /// The path given to `open`/`create`; error messages name the file by it.
    public let path: String
    /// The HDF5 file id, or -1 once closed.
    private var id: hid_t

    private init(path: String, id: hid_t) {
        self.path = path
        self.id = id
    }

    deinit { close() }

    /// Opens an existing HDF5 file.
    ///
    /// Throws if the file is missing, unreadable, not HDF5, or truncated.
    public static func open(_ path: String, mode: Mode = .readOnly) throws(HDF5Error) -> HDF5File {
        let call = HDF5Call(file: path, object: "/")
        guard FileManager.default.fileExists(atPath: path) else { throw call.error("no such file") }
        // A FIFO would block the open forever (and a device or directory is no HDF5 file):
        // refuse anything but a regular file (a symbolic link is followed) at once.
        var status = stat()
        guard stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            throw call.error("not a regular file (a FIFO, device or directory): cannot read it as an HDF5 file")
        }
        return try HDF5Library.serialized { () throws(HDF5Error) -> HDF5File in
            let fapl = try strongCloseAccessList(call)
            defer { H5Pclose(fapl) }
            if mode == .readOnly {
                // No lock for a reader. Loom writes every file under a temporary name and
                // renames it into place, so a reader never meets one half written; HDF5's lock
                // would only fail a reader while some process still holds a descriptor of the
                // writer's (a child that another thread is spawning holds copies of every
                // descriptor for an instant, before it closes them or runs exec). Should the
                // library refuse the setting, the open simply locks as before.
                _ = H5Pset_file_locking(fapl, false, true)
            }
            let flags = mode == .readOnly ? loom_h5f_acc_rdonly() : loom_h5f_acc_rdwr()
            let what = mode == .readOnly ? "reading" : "writing"
            let id = try call.id(H5Fopen(path, flags, fapl), "cannot open as an HDF5 file for \(what)")
            return HDF5File(path: path, id: id)
        }
    }

    /// Creates a new HDF5 file, truncating any existing file at `path`.
    public static func create(_ path: String) throws(HDF5Error) -> HDF5File {
        let call = HDF5Call(file: path, object: "/")
        return try HDF5Library.serialized { () throws(HDF5Error) -> HDF5File in
            let fapl = try strongCloseAccessList(call)
            defer { H5Pclose(fapl) }
            let id = try call.id(H5Fcreate(path, loom_h5f_acc_trunc(), HDF5Library.defaultPlist, fapl),
                                 "cannot create HDF5 file")
            return HDF5File(path: path, id: id)
        }
    }

    /// The root group `/`.
    public var root: HDF5Group { HDF5Group(file: self, path: "/") }

    /// True until `close()`.
    public var isOpen: Bool { id >= 0 }

    /// Writes all buffered data of this file to disk (`H5Fflush`, global scope).
    public func flush() throws(HDF5Error) {
        let call = HDF5Call(file: path, object: "/")
        try HDF5Library.serialized { () throws(HDF5Error) in
            let id = try handle(for: "/")
            try call.check(H5Fflush(id, H5F_SCOPE_GLOBAL), "cannot flush file")
        }
    }

    /// Closes the file and every object still open in it. Idempotent; `deinit` calls it.
    public func close() {
        HDF5Library.serialized {
            guard id >= 0 else { return }
            H5Fclose(id)
            id = -1
        }
    }

    /// The file id for an operation on `object`; throws if the file was closed.
    func handle(for object: String) throws(HDF5Error) -> hid_t {
        guard id >= 0 else { throw HDF5Error(file: path, object: object, message: "file is closed") }
        return id
    }

    private static func strongCloseAccessList(_ call: HDF5Call) throws(HDF5Error) -> hid_t {
        let fapl = try call.id(H5Pcreate(loom_h5p_file_access()), "cannot create file access property list")
        if H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0 {
            let error = HDF5Error.fromLibrary(file: call.file, object: call.object, "cannot set close degree")
            H5Pclose(fapl)
            throw error
        }
        return fapl
    }
}
