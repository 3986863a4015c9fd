// LoomCluster
