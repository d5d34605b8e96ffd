"""The tcc compiler: driver, command-line tools, errors and targets."""
