// A dataset's `fingerprint` attribute is a claim; verification recomputes it from the data.
// Training (`loom train`, `loom coordinator`), workers reading their own copy, and
// `loom verify` do, once per file: a file that verified is remembered by who it is on disk
// (device, inode, size, modification and change times), so the next run on the same,
// unchanged file pays one `fstat`. What the fingerprint cannot see after that (a disk that
// flips a bit later) the Fletcher-32 chunk checksums catch on every read.
// docs/DATASETS.md, "Verified data".

import Foundation
import LoomHDF5

/// What recomputing a dataset's fingerprint found.
public struct FingerprintCheck: Sendable, Equatable {
    /// The file's `fingerprint` attribute.
    public var stored: String
    /// What its content hashes to.
    public var computed: String
    /// Bytes of data hashed (images, labels, targets).
    public var bytes: Int
    /// Wall-clock time of the whole check.
    public var seconds: Double
    /// CPU time of this process during the check (all threads): on a busy machine, what
    /// the check costs when the CPU is not shared.
    public var cpuSeconds: Double

    public var matches: Bool { stored == computed }
    /// Data hashed per second, in MB (10^6 bytes).
    public var megabytesPerSecond: Double { seconds > 0 ? Double(bytes) / 1e6 / seconds : 0 }
    /// Data hashed per CPU second, in MB.
    public var megabytesPerCPUSecond: Double { cpuSeconds > 0 ? Double(bytes) / 1e6 / cpuSeconds : 0 }
}

/// How the arrays of a dataset are protected on disk.
public enum ChecksumCoverage: String, Sendable {
    /// Every image, label and target array has Fletcher-32 chunk checksums.
    case every
    /// Some arrays have them, some do not.
    case partial
    /// None (a file written before Loom stored checksums, or by another tool): it still
    /// reads; only the fingerprint protects it.
    case absent
}

extension Dataset {
    /// Recomputes the content hash from the stored data, streaming (about 4 MiB at a time,
    /// whatever the file's size), and compares it with the `fingerprint` attribute.
    /// - Throws: `.corrupt` when a chunk fails its checksum on the way; other read errors.
    public func checkFingerprint() throws(DatasetError) -> FingerprintCheck {
        let started = Date(), startedCPU = Self.processCPUSeconds()
        // The fingerprint names one image shape for every split (DatasetContents).
        let shape = try split(splitNames[0]).imageShape
        for name in splitNames.dropFirst() where try split(name).imageShape != shape {
            throw .badLayout(file: path, object: "/\(name)/images",
                             reason: "image shape differs from /\(splitNames[0])/images (\(shape))")
        }
        let result: (hex: String, bytes: Int)
        do throws(HDF5Error) {
            result = try StreamingFingerprint.hash(file.root, splits: splitNames, shape: shape)
        } catch {
            throw .hdf5(error)
        }
        return FingerprintCheck(stored: fingerprint, computed: result.hex, bytes: result.bytes,
                                seconds: Date().timeIntervalSince(started),
                                cpuSeconds: Self.processCPUSeconds() - startedCPU)
    }

    private static func processCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// Recomputes the content hash from the stored data (reads every split), for
    /// verifying a file against its `fingerprint` attr.
    public func computeFingerprint() throws(DatasetError) -> String {
        try checkFingerprint().computed
    }

    /// Which of the file's arrays carry chunk checksums.
    public func checksumCoverage() throws(DatasetError) -> ChecksumCoverage {
        var with = 0, without = 0
        do throws(HDF5Error) {
            let root = file.root
            for split in splitNames {
                var arrays = ["\(split)/images"]
                for group in ["labels", "targets"] where root.isGroup("\(split)/\(group)") {
                    arrays += try root.children("\(split)/\(group)").map { "\(split)/\(group)/\($0)" }
                }
                for a in arrays {
                    // An empty array has no chunk to protect.
                    if try root.shape(of: a).contains(0) { continue }
                    if try root.storage(of: a).isChecksummed { with += 1 } else { without += 1 }
                }
            }
        } catch {
            throw .hdf5(error)
        }
        return without == 0 ? .every : with == 0 ? .absent : .partial
    }

    /// Who the open file is on disk (its descriptor's `fstat`).
    public func fileStatus() throws(DatasetError) -> HDF5FileStatus {
        do throws(HDF5Error) { return try file.status() } catch { throw .hdf5(error) }
    }
}

/// Checks datasets against their fingerprints, remembering the files that passed.
public struct DatasetVerifier: Sendable {
    /// Where files that verified are remembered; nil: verify every time.
    public var cache: VerifiedDatasetCache?

    public init(cache: VerifiedDatasetCache?) { self.cache = cache }

    /// What `verify` did.
    public struct Outcome: Sendable {
        /// The check, or nil when the file was remembered as verified (nothing read).
        public var check: FingerprintCheck?
        /// Why the result could not be remembered (for a warning), if it could not.
        public var cacheProblem: String?
    }

    /// True when `dataset`'s file, as it is now, verified before.
    public func isRemembered(_ dataset: Dataset) -> Bool {
        guard let cache, let status = try? dataset.fileStatus() else { return false }
        return cache.contains(status, fingerprint: dataset.fingerprint)
    }

    /// Verifies `dataset` unless its file is remembered as verified; remembers it after.
    /// - Throws: `.fingerprintMismatch` when the content does not hash to the fingerprint,
    ///   `.corrupt` when a chunk fails its checksum, other errors when it cannot be read.
    @discardableResult
    public func verify(_ dataset: Dataset, force: Bool = false) throws(DatasetError) -> Outcome {
        let before = try dataset.fileStatus()
        if !force, let cache, cache.contains(before, fingerprint: dataset.fingerprint) { return Outcome(check: nil) }
        let check = try dataset.checkFingerprint()
        guard check.matches else {
            throw .fingerprintMismatch(file: dataset.path, stored: check.stored, computed: check.computed)
        }
        guard let cache else { return Outcome(check: check) }
        // Changed while it was read: it verified, but what is on disk now may not.
        guard let after = try? dataset.fileStatus(), after == before else {
            return Outcome(check: check, cacheProblem: "the file changed while it was read; not remembered")
        }
        do {
            try cache.record(before, fingerprint: dataset.fingerprint, path: dataset.path)
            return Outcome(check: check)
        } catch {
            return Outcome(check: check, cacheProblem: "\(error)")
        }
    }
}

/// A small text file of datasets that verified: one line per file,
/// `v1 <device> <inode> <size> <mtime ns> <ctime ns> <fingerprint> <path>` (the path is
/// only for people reading it). A file is remembered while all six fields match: any
/// write to it changes its change time, which only the kernel sets.
///
/// The newest `limit` lines are kept. Writers replace the file atomically; two processes
/// writing at once may lose one line, which only costs a later verification.
public struct VerifiedDatasetCache: Sendable {
    /// The cache file.
    public let path: String
    public var limit = 256

    public init(path: String) { self.path = path }

    /// True when a line matches `status` and `fingerprint`.
    public func contains(_ status: HDF5FileStatus, fingerprint: String) -> Bool {
        let key = Self.key(status, fingerprint)
        return lines().contains { $0.hasPrefix(key + " ") }
    }

    /// Adds (or refreshes) the line of `status`.
    public func record(_ status: HDF5FileStatus, fingerprint: String, path file: String) throws(DatasetError) {
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw .io(file: path, reason: "cannot create the directory of the verified-datasets cache: \(error.localizedDescription)")
        }
        let sameFile = "v1 \(status.device) \(status.inode) "
        var kept = lines().filter { !$0.hasPrefix(sameFile) }
        kept.append(Self.key(status, fingerprint) + " " + file.replacingOccurrences(of: "\n", with: " "))
        let text = kept.suffix(limit).joined(separator: "\n") + "\n"
        let temporary = "\(path).tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]),
              rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temporary)
            throw .io(file: path, reason: "cannot write the verified-datasets cache: \(reason)")
        }
    }

    private func lines() -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map(String.init).filter { $0.hasPrefix("v1 ") }
    }

    private static func key(_ s: HDF5FileStatus, _ fingerprint: String) -> String {
        "v1 \(s.device) \(s.inode) \(s.size) \(s.modifiedNanoseconds) \(s.changedNanoseconds) \(fingerprint)"
    }
}
