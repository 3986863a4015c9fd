// LoomCheckpoint
