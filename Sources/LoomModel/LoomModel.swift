// LoomModel
