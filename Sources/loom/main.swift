import CBLAS
import CHDF5Shim
import CZeroMQ
import CZlib
print("loom")
