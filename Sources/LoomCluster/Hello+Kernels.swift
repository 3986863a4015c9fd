// The kernels a hello names, read as LoomKernels' `KernelIdentity` (the wire carries the
// two strings and the revision; what they mean for admission is the cluster's business).

import LoomKernels
import LoomWire

extension Hello {
    /// A hello from this process: its kernels are `kernels` (this process's by default).
    public init(hostname: String, pid: Int, cores: Int, datasetFingerprint: String, hasLocalData: Bool,
                sharedMemory: SharedMemoryOffer? = nil, kernels: KernelIdentity = .current) {
        self.init(hostname: hostname, pid: pid, cores: cores, datasetFingerprint: datasetFingerprint,
                  hasLocalData: hasLocalData, sharedMemory: sharedMemory, blasCore: kernels.blasCore,
                  kernelPath: kernels.loomPath, kernelRevision: kernels.revision)
    }

    /// The kernels the worker computes with.
    public var kernels: KernelIdentity {
        get { KernelIdentity(blasCore: blasCore, loomPath: kernelPath, revision: kernelRevision) }
        set { blasCore = newValue.blasCore; kernelPath = newValue.loomPath; kernelRevision = newValue.revision }
    }
}
