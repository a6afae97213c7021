"""Stage 2-3, neurons: activation dumps, neuron scores and their ranking, and activation probing."""
