// LoomTraining
