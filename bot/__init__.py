"""copbot's core: the neutral model, the ports, commands, features and the scheduler."""
