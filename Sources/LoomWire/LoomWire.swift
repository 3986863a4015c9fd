// LoomWire
