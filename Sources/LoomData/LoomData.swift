// LoomData
